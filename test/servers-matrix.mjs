#!/usr/bin/env node
// The server-version matrix: the integration tests whose outcome depends on the nats-server
// (cluster, event store, faults, scenarios, the writer race) run again on every supported version
// besides the default, which the whole suite already ran on. Each version's results go to
// coverage/test-results-<version>.json, which .ci/summary.mjs adds up. Usage:
//   node test/servers-matrix.mjs [VERSION...]     (default: every supported version but the default)
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';

const cli = ['dist/cli/main.js'];
const listed = spawnSync(process.execPath, [...cli, 'servers', 'list', '--json'], { encoding: 'utf8' });
if (listed.status !== 0) {
  process.stderr.write(listed.stderr);
  process.exit(listed.status ?? 1);
}
const { default: defaultVersion, servers } = JSON.parse(listed.stdout);
const versions = process.argv.slice(2).length > 0 ? process.argv.slice(2) : servers.map((s) => s.version).filter((v) => v !== defaultVersion);

const files = [
  'test/integration/cluster-faults.test.ts',
  'test/integration/eventstore.test.ts',
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

/** The test files with a failed test (or that failed to run) in a vitest JSON report. */
function failingFiles(report) {
  try {
    const { testResults } = JSON.parse(readFileSync(report, 'utf8'));
    const failing = testResults.filter((f) => f.status !== 'passed').map((f) => relative(process.cwd(), f.name));
    return failing.length > 0 ? failing : files;
  } catch {
    return files;
  }
}

/**
 * Writes into `rerun` the whole version's results: the first run's files that passed, and the
 * second run's for the files run again, so the summary still counts every test once.
 */
function mergeRerun(first, rerun) {
  try {
    const before = JSON.parse(readFileSync(first, 'utf8'));
    const after = JSON.parse(readFileSync(rerun, 'utf8'));
    const again = new Set(after.testResults.map((f) => f.name));
    const testResults = [...before.testResults.filter((f) => !again.has(f.name)), ...after.testResults];
    const tests = testResults.flatMap((f) => f.assertionResults ?? []);
    const count = (status) => tests.filter((t) => t.status === status).length;
    const merged = {
      ...after,
      numTotalTestSuites: testResults.length,
      numPassedTestSuites: testResults.filter((f) => f.status === 'passed').length,
      numFailedTestSuites: testResults.filter((f) => f.status === 'failed').length,
      numTotalTests: tests.length,
      numPassedTests: count('passed'),
      numFailedTests: count('failed'),
      numPendingTests: count('pending') + count('skipped'),
      numTodoTests: count('todo'),
      success: after.success && testResults.every((f) => f.status === 'passed'),
      testResults,
    };
    writeFileSync(rerun, JSON.stringify(merged));
  } catch (error) {
    process.stdout.write(`could not merge the two runs' results (${error.message}); the summary counts the second run only\n`);
  }
}

let failed = false;
for (const version of versions) {
  const started = Date.now();
  process.stdout.write(`\n== nats-server ${version}: ${files.length} integration files ==\n`);
  // Builds the version into the cache when missing (the floor comes from the system where it has it).
  const installed = spawnSync(process.execPath, [...cli, '--nats-server', version, 'servers', 'install'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const path = /: (\/\S+)\s*$/.exec(installed.stdout ?? '')?.[1];
  if (installed.status !== 0 || !path) {
    process.stdout.write(`nats-server ${version} could not be installed\n`);
    failed = true;
    continue;
  }
  const results = `coverage/test-results-${version}.json`;
  let run = spawnSync('npx', ['vitest', 'run', ...files], { stdio: 'inherit', env: { ...serverEnv(path), CIM_TEST_RESULTS: results } });
  let verdict = run.status === 0 ? 'passed' : 'FAILED';
  if (run.status !== 0) {
    // Fault tests on older servers are timing-sensitive on two shared cores (a paused follower's
    // publish timing out, JetStream unavailable while a damaged node stays down). The failing files
    // run once more on fresh clusters; the first run is kept beside the results and said loudly,
    // so a flake is visible but a version is judged on a clean second run.
    const failedFiles = failingFiles(results);
    renameSync(results, `coverage/flaky-${version}.json`);
    process.stdout.write(`== nats-server ${version}: FAILED first; running ${failedFiles.join(', ')} once more (first run: coverage/flaky-${version}.json) ==\n`);
    run = spawnSync('npx', ['vitest', 'run', ...failedFiles], { stdio: 'inherit', env: { ...serverEnv(path), CIM_TEST_RESULTS: results } });
    mergeRerun(`coverage/flaky-${version}.json`, results);
    verdict = run.status === 0 ? 'passed on the second run (FLAKY)' : 'FAILED twice';
  }
  if (run.status !== 0) failed = true;
  process.stdout.write(`== nats-server ${version}: ${verdict} in ${Math.round((Date.now() - started) / 1000)} s ==\n`);
}
process.exit(failed ? 1 : 0);
