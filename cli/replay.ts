// `cim replay PROJECTION [--to SEQ|TIME]`: a read model rebuilt from its streams, or as of a point
// in time, into a new SQLite file.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { CimError, replay } from '../appliance/index.js';
import { progressBar } from './tty.js';
import { withConnection } from './with-cluster.js';
import { action, configFrom, print, servedDomains } from './wiring.js';

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description(
      'rebuild a projection\'s read model from its streams, or travel in time: build it as of a stream sequence\n' +
        '(--to 1234) or a timestamp (--to 2026-11-25T10:00:00Z); writes a new SQLite file and prints events/s',
    )
    .argument('<projection>', 'the projection, e.g. person_directory (see the domains)')
    .option('--to <seq|time>', 'stop after this stream sequence, or at this RFC 3339 time')
    .option('--out <file>', 'the SQLite file to write (default: <state>/replays/<projection>[@<to>].sqlite)')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (name: string, options: { to?: string; out?: string; json?: boolean }, command: Command) => {
        const config = configFrom(command);
        const domains = await servedDomains(config);
        const owner = domains.find((d) => d.definition.projections?.some((p) => p.name === name));
        const projection = owner?.definition.projections?.find((p) => p.name === name);
        if (!owner || !projection) {
          const known = domains.flatMap((d) => d.definition.projections ?? []).map((p) => p.name);
          throw new CimError('CIM-NOT-FOUND', `no projection ${name}; there are ${known.join(', ')}`);
        }
        const bound = parseReplayBound(options.to);
        const out = options.out ?? join(config.stateDir, 'replays', `${name}${options.to ? '@' + options.to.replace(/[^A-Za-z0-9.-]/g, '_') : ''}.sqlite`);
        mkdirSync(dirname(out), { recursive: true });
        await withConnection(config, 'cim-replay', async (nc) => {
          const bar = progressBar(`replay ${name}`);
          const result = await replay({ nc, projection, path: out, upcasters: owner.upcasters, ...bound, onProgress: bar.update });
          bar.done();
          if (options.json) print(JSON.stringify({ projection: name, path: out, ...result }, null, 2));
          else print(`${name}: ${result.events} events in ${result.seconds.toFixed(2)} s = ${Math.round(result.eventsPerSecond)} events/s, up to stream seq ${result.lastSeq}; written to ${out}`);
        });
      }),
    );
}

/** `--to` of `cim replay`: digits are a stream sequence, anything else an RFC 3339 time. */
function parseReplayBound(to: string | undefined): { toSeq?: number; toTime?: string } {
  if (to === undefined) return {};
  if (/^\d+$/.test(to)) return { toSeq: Number(to) };
  if (Number.isNaN(Date.parse(to))) throw new CimError('CIM-INVALID-INPUT', `--to: expected a stream sequence or an RFC 3339 time, got "${to}"`);
  return { toTime: new Date(to).toISOString() };
}
