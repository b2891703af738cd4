// Prints the suite's result as the plain closing line CI reads: "N passed, N failed", added up
// over the JSON reports vitest wrote (the whole suite, then each server version of the matrix).
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['coverage/test-results.json'];
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of files) {
  try {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    passed += report.numPassedTests;
    failed += report.numFailedTests + (report.success ? 0 : report.numFailedTests === 0 ? 1 : 0);
    skipped += report.numPendingTests + report.numTodoTests;
  } catch (error) {
    console.log(`test report ${file} is missing or unreadable (${error.message})`);
    failed += 1;
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
