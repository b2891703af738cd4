#!/usr/bin/env node
// The server-version matrix: the integration tests whose outcome depends on the nats-server
// (cluster, event store, faults, scenarios, the writer race) run again on every supported version
// besides the default, which the whole suite already ran on. Each version's results go to
// coverage/test-results-<version>.json, which .ci/summary.mjs adds up (a first run that failed is
// kept as first-run-test-results-<version>.json, which it does not). Usage:
//   node test/servers-matrix.mjs [VERSION...]     (default: every supported version but the default)
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { rerunFailed } from './rerun-failed.mjs';

const cli = ['dist/cli/main.js'];
const listed = spawnSync(process.execPath, [...cli, 'servers', 'list', '--json'], { encoding: 'utf8' });
if (listed.status !== 0) {
  process.stderr.write(listed.stderr);
  process.exit(listed.status ?? 1);
}
const { default: defaultVersion, servers } = JSON.parse(listed.stdout);
const versions =
  process.argv.slice(2).length > 0
    ? process.argv.slice(2)
    : servers.map((s) => s.version).filter((v) => v !== defaultVersion);

const files = [
  'test/integration/cluster-faults.test.ts',
  'test/integration/eventstore.test.ts',
  'test/integration/group-commit.test.ts',
  'test/integration/scenario-runner.test.ts',
  'test/integration/writer-race.test.ts',
  ...readdirSync('test/integration')
    .filter((f) => /fault/.test(f) && f !== 'cluster-faults.test.ts' && f.endsWith('.test.ts'))
    .map((f) => `test/integration/${f}`),
];

/** The environment that makes every cluster of a test run this binary. */
function serverEnv(path) {
  const env = { ...process.env, NATS_SERVER_BIN: path };
  delete env.CIM_NATS_SERVER;
  return env;
}

let failed = false;
for (const version of versions) {
  const started = Date.now();
  process.stdout.write(`\n== nats-server ${version}: ${files.length} integration files ==\n`);
  // Builds the version into the cache when missing (the floor comes from the system where it has it).
  const installed = spawnSync(process.execPath, [...cli, '--nats-server', version, 'servers', 'install'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const path = /: (\/\S+)\s*$/.exec(installed.stdout ?? '')?.[1];
  if (installed.status !== 0 || !path) {
    process.stdout.write(`nats-server ${version} could not be installed\n`);
    failed = true;
    continue;
  }
  const results = `coverage/test-results-${version}.json`;
  const run = spawnSync('npx', ['vitest', 'run', ...files], {
    stdio: 'inherit',
    env: { ...serverEnv(path), CIM_TEST_RESULTS: results },
  });
  let verdict = run.status === 0 ? 'passed' : 'FAILED';
  // Fault tests on older servers are timing-sensitive on two shared cores (a paused follower's
  // publish timing out, JetStream unavailable while a damaged node stays down): the failing files
  // run once more on fresh clusters, said loudly, the first run kept beside the results.
  const passed =
    run.status === 0 ||
    rerunFailed(results, { env: serverEnv(path), fallback: files, label: `nats-server ${version}` });
  if (run.status !== 0) verdict = passed ? 'passed on the second run (FLAKY)' : 'FAILED twice';
  if (!passed) failed = true;
  process.stdout.write(`== nats-server ${version}: ${verdict} in ${Math.round((Date.now() - started) / 1000)} s ==\n`);
}
process.exit(failed ? 1 : 0);
