// `cim replay PROJECTION [--to SEQ|TIME]`: a read model rebuilt from its streams, or as of a point
// in time, into a new SQLite file.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import {
  CimError,
  FieldEncryption,
  keyStorePath,
  personalDataOf,
  replay,
  rfc3339Time,
  SubjectKeyStore,
} from '../appliance/index.js';
import { progressBar } from './tty.js';
import { cliAuditWriter, recordAdmin } from './audit.js';
import { withCluster } from './with-cluster.js';
import { action, configFrom, print, servedDomains } from './wiring.js';

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description(
      "rebuild a projection's read model from its streams, or travel in time: build it as of a stream sequence\n" +
        '(--to 1234) or a timestamp (--to 2026-11-25T10:00:00Z); writes a new SQLite file and prints events/s',
    )
    .argument('<projection>', 'the projection, e.g. person_directory (see the domains)')
    .option('--to <seq|time>', 'stop after this stream sequence, or at this RFC 3339 time')
    .option('--out <file>', 'the SQLite file to write (default: <state>/replays/<projection>[@<to>].sqlite)')
    .option('--force', 'replace the file --out names when it exists')
    .option(
      '--worker',
      'decode and apply on a worker thread while this one reads (for a machine with a core to spare: with NATS on the same 2 cores it was slower)',
    )
    .option('--json', 'print the result as JSON')
    .action(
      action(
        async (
          name: string,
          options: { to?: string; out?: string; force?: boolean; json?: boolean; worker?: boolean },
          command: Command,
        ) => {
          const config = configFrom(command);
          const domains = await servedDomains(config);
          const owner = domains.find((d) => d.definition.projections?.some((p) => p.name === name));
          const projection = owner?.definition.projections?.find((p) => p.name === name);
          if (!owner || !projection) {
            const known = domains.flatMap((d) => d.definition.projections ?? []).map((p) => p.name);
            throw new CimError('CIM-NOT-FOUND', `no projection ${name}; there are ${known.join(', ')}`);
          }
          const bound = parseReplayBound(options.to);
          const out =
            options.out ??
            join(
              config.stateDir,
              'replays',
              `${name}${options.to ? '@' + options.to.replace(/[^A-Za-z0-9.-]/g, '_') : ''}.sqlite`,
            );
          if (options.out) checkOutFile(options.out, options.force ?? false);
          else mkdirSync(dirname(out), { recursive: true });
          // Personal data is decrypted with the state dir's subject keys; without them (or once a
          // subject is erased) its fields are rebuilt as erased.
          const dir = config.privacy.keyStoreDir;
          const keys = existsSync(keyStorePath(config.stateDir, dir))
            ? SubjectKeyStore.open(config.stateDir, dir ? { dir } : {})
            : undefined;
          const protection = new FieldEncryption(personalDataOf(domains), keys);
          try {
            await withCluster(config, async (cluster) => {
              const nc = await cluster.connect('auditor', 'cim-replay');
              const audit = await cliAuditWriter(config, cluster);
              const bar = progressBar(`replay ${name}`);
              const result = await recordAdmin(audit, 'replay', `projection/${name}`, () =>
                replay({
                  nc,
                  projection,
                  path: out,
                  upcasters: owner.upcasters,
                  protection,
                  ...bound,
                  // The worker loads the same domains and opens the same key store itself.
                  ...(options.worker
                    ? {
                        worker: {
                          plugins: config.domains.plugins,
                          privacy: { stateDir: config.stateDir, keyStoreDir: dir },
                        },
                      }
                    : {}),
                  onProgress: bar.update,
                }),
              );
              bar.done();
              if (options.json) print(JSON.stringify({ projection: name, path: out, ...result }, null, 2));
              else
                print(
                  `${name}: ${result.events} events in ${result.seconds.toFixed(2)} s = ${Math.round(result.eventsPerSecond)} events/s, up to stream seq ${result.lastSeq}; written to ${out}`,
                );
            });
          } finally {
            keys?.close();
          }
        },
      ),
    );
}

/** `--to` of `cim replay`: digits are a stream sequence (≥ 1), anything else an RFC 3339 time. */
function parseReplayBound(to: string | undefined): { toSeq?: number; toTime?: string } {
  if (to === undefined) return {};
  if (/^\d+$/.test(to) && Number.isSafeInteger(Number(to)) && Number(to) >= 1) return { toSeq: Number(to) };
  if (!rfc3339Time.test(to) || Number.isNaN(Date.parse(to)))
    throw new CimError(
      'CIM-INVALID-INPUT',
      `--to: expected a stream sequence ≥ 1 or an RFC 3339 time such as 2026-11-25T10:00:00Z, got "${to}"`,
    );
  return { toTime: new Date(to).toISOString() };
}

/** `--out` names a file to make: its directory must exist, and an existing file is replaced only with --force. */
function checkOutFile(out: string, force: boolean): void {
  const parent = dirname(out);
  if (!existsSync(parent) || !statSync(parent).isDirectory())
    throw new CimError('CIM-INVALID-INPUT', `--out ${out}: the directory ${parent} does not exist`);
  if (!existsSync(out)) return;
  if (statSync(out).isDirectory())
    throw new CimError('CIM-INVALID-INPUT', `--out ${out} is a directory; name the SQLite file to write`);
  if (!force)
    throw new CimError('CIM-INVALID-INPUT', `--out ${out} exists`, {
      hint: 'Pass --force to replace it, or name another file.',
    });
}
