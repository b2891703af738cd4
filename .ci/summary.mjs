// Prints the suite's result as the plain closing line CI reads: "N passed, N failed", added up
// over the JSON reports vitest wrote (the whole suite, then each server version of the matrix).
// The failed tests are listed just above it, so the tail of a CI log says what failed.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';

const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['coverage/test-results.json'];
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
for (const file of files) {
  try {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    passed += report.numPassedTests;
    failed += report.numFailedTests + (report.success ? 0 : report.numFailedTests === 0 ? 1 : 0);
    skipped += report.numPendingTests + report.numTodoTests;
    for (const suite of report.testResults ?? []) {
      const name = relative(process.cwd(), suite.name);
      const failedTests = (suite.assertionResults ?? []).filter((t) => t.status === 'failed');
      for (const test of failedTests)
        failures.push(`${file}: ${name} > ${test.fullName}: ${firstLine(test.failureMessages?.[0])}`);
      if (suite.status === 'failed' && failedTests.length === 0)
        failures.push(`${file}: ${name}: ${firstLine(suite.message)}`);
    }
    if (
      !report.success &&
      report.numFailedTests === 0 &&
      !(report.testResults ?? []).some((s) => s.status === 'failed')
    ) {
      failures.push(`${file}: the run failed outside any test (a setup, teardown or unhandled error)`);
    }
  } catch (error) {
    failures.push(`test report ${file} is missing or unreadable (${error.message})`);
    failed += 1;
  }
}
// The tests that failed once and passed when their file ran again (test/rerun-failed.mjs).
const flaky = files.flatMap((file) => {
  const firstRun = join(dirname(file), `first-run-${basename(file)}`);
  if (!existsSync(firstRun)) return [];
  const report = JSON.parse(readFileSync(firstRun, 'utf8'));
  const final = JSON.parse(readFileSync(file, 'utf8'));
  const stillFailing = new Set(
    (final.testResults ?? []).flatMap((suite) =>
      (suite.assertionResults ?? [])
        .filter((t) => t.status === 'failed')
        .map((t) => `${suite.name}\u0000${t.fullName}`),
    ),
  );
  return (report.testResults ?? []).flatMap((suite) =>
    (suite.assertionResults ?? [])
      .filter((t) => t.status === 'failed' && !stillFailing.has(`${suite.name}\u0000${t.fullName}`))
      .map(
        (t) => `${file}: ${relative(process.cwd(), suite.name)} > ${t.fullName}: ${firstLine(t.failureMessages?.[0])}`,
      ),
  );
});
if (flaky.length > 0)
  console.log(`flaky (failed, then passed when run again):\n${flaky.map((f) => `  ${f}`).join('\n')}`);
if (failures.length > 0) console.log(`failed:\n${failures.map((f) => `  ${f}`).join('\n')}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);

/** The first line of a failure message, without terminal colours, at most 300 characters. */
function firstLine(message) {
  /* eslint-disable no-control-regex -- the pattern names the control characters it removes */
  const line =
    String(message ?? 'no message')
      .replace(/\u001b\[[0-9;]*m/g, '')
      .split('\n')
      .find((l) => l.trim()) ?? '';
  /* eslint-enable no-control-regex */
  return line.trim().slice(0, 300);
}
