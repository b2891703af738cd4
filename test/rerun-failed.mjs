#!/usr/bin/env node
// Runs the failed files of a vitest JSON report once more, on fresh clusters, and writes the
// whole run's results back to that report: the first run's files that passed, the second run's
// for the files run again. The first run is kept beside it as first-run-<name>.json and the
// files are named loudly, so a flake is visible while a run is judged on a clean second try.
// The server matrix uses it per version, and .ci/run for the whole suite. Usage:
//   node test/rerun-failed.mjs coverage/test-results.json      (exit 0 when the second run passed)
import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The test files with a failed test (or that failed to run) in a vitest JSON report; undefined when it cannot be read. */
export function failingFiles(report) {
  try {
    const { testResults } = JSON.parse(readFileSync(report, 'utf8'));
    return testResults.filter((f) => f.status !== 'passed').map((f) => relative(process.cwd(), f.name));
  } catch {
    return undefined;
  }
}

/** Merges the second run `rerun` into the first `first`, written to `rerun`, so every test counts once. */
export function mergeRerun(first, rerun) {
  try {
    const before = JSON.parse(readFileSync(first, 'utf8'));
    const after = JSON.parse(readFileSync(rerun, 'utf8'));
    const again = new Set(after.testResults.map((f) => f.name));
    const testResults = [...before.testResults.filter((f) => !again.has(f.name)), ...after.testResults];
    const tests = testResults.flatMap((f) => f.assertionResults ?? []);
    const count = (status) => tests.filter((t) => t.status === status).length;
    writeFileSync(
      rerun,
      JSON.stringify({
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
      }),
    );
  } catch (error) {
    process.stdout.write(
      `could not merge the two runs' results (${error.message}); the summary counts the second run only\n`,
    );
  }
}

/**
 * Reruns the failed files of `results` (all of `fallback` when the report names none or is
 * unreadable), in `env`. Returns true when the second run passed.
 */
export function rerunFailed(results, { env = process.env, fallback = [], label = 'the suite' } = {}) {
  const failed = failingFiles(results);
  const files = failed && failed.length > 0 ? failed : fallback;
  if (files.length === 0) {
    process.stdout.write(`== ${label}: no failed test file to run again (the run failed outside the tests) ==\n`);
    return false;
  }
  const firstRun = join(dirname(results), `first-run-${basename(results)}`);
  renameSync(results, firstRun);
  process.stdout.write(
    `== ${label}: FAILED first; running ${files.join(', ')} once more (first run: ${firstRun}) ==\n`,
  );
  const run = spawnSync('npx', ['vitest', 'run', ...files], {
    stdio: 'inherit',
    env: { ...env, CIM_TEST_RESULTS: results },
  });
  mergeRerun(firstRun, results);
  process.stdout.write(
    `== ${label}: ${run.status === 0 ? `passed on the second run (FLAKY: ${files.join(', ')})` : 'FAILED twice'} ==\n`,
  );
  return run.status === 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const results = process.argv[2] ?? 'coverage/test-results.json';
  process.exit(rerunFailed(results) ? 0 : 1);
}
