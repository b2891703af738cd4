// A cluster that does not start is that scenario's error, not the end of the run: `cim bench
// --servers <a server that exits at once>,<the pinned default>` records the first run as an error
// with CIM-CLUSTER-START, still runs the second, writes both results, and exits 3 (the run broke).
// The broken server is a script that answers `--version` and `-t` like nats-server and then exits.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_VERSION } from '../../appliance/index.js';
import type { BenchResults } from '../../scenarios/index.js';
import { runCli } from '../support/cli.js';
import { expectValidAgainstSchema } from '../support/published-schema.js';
import { fileTempDir } from '../support/temp-dir.js';

const work = fileTempDir('bench-start-failure');
afterAll(() => work.remove());

describe('cim bench when one scenario’s cluster does not start', () => {
  it('records that run as an error, runs the next one, writes both, and exits 3', async () => {
    const broken = join(work.path, 'nats-server');
    writeFileSync(
      broken,
      [
        '#!/bin/sh',
        `case "$1" in --version|-v|version) echo "nats-server: v${DEFAULT_SERVER_VERSION}"; exit 0;; esac`,
        'for a in "$@"; do [ "$a" = "-t" ] && exit 0; done',
        'echo "this nats-server refuses to start" >&2',
        'exit 1',
        '',
      ].join('\n'),
    );
    chmodSync(broken, 0o755);
    const scenario = join(work.path, 'tiny.yaml');
    writeFileSync(
      scenario,
      [
        'name: tiny',
        'description: a second of registrations',
        'seed: 5',
        'cluster: { nodes: 1 }',
        'phases:',
        '  - { name: load, type: load, rate: 50, duration: 1s, mix: [ { command: person.RegisterPerson } ] }',
        '  - { name: verdict, type: check, expect: [ lost == 0 ] }',
        '',
      ].join('\n'),
    );
    const out = join(work.path, 'results.json');
    const cli = await runCli(
      [
        '--state',
        join(work.path, 'state'),
        'bench',
        scenario,
        '--servers',
        `${broken},${DEFAULT_SERVER_VERSION}`,
        '--baseline-messages',
        '200',
        '--out',
        out,
      ],
      { timeoutMs: 180_000 },
    );
    expect(cli.code, cli.stdout + cli.stderr).toBe(3);
    const results = JSON.parse(readFileSync(out, 'utf8')) as BenchResults;
    expectValidAgainstSchema('results', results);
    expect(results.scenarios.map((s) => [s.server, s.status])).toEqual([
      [broken, 'error'],
      [DEFAULT_SERVER_VERSION, 'passed'],
    ]);
    const failed = results.scenarios[0]!;
    expect(failed.errorCode).toBe('CIM-CLUSTER-START');
    expect(failed.reason).toMatch(/^CIM-CLUSTER-START: scenario tiny@.*: the cluster did not start: /);
    expect(cli.stdout).toMatch(/verdict: error/);
    expect(cli.stderr).not.toMatch(/^\s+at /m);
  }, 200_000);
});
