// Prints the suite's result as the plain closing line CI reads: "N passed, N failed".
// vitest writes its JSON report to the file named by the first argument.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'coverage/test-results.json';
try {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  const failed = report.numFailedTests + (report.success ? 0 : report.numFailedTests === 0 ? 1 : 0);
  const skipped = report.numPendingTests + report.numTodoTests;
  console.log(`${report.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
} catch (error) {
  console.log(`test report ${file} is missing or unreadable (${error.message})`);
  console.log('0 passed, 1 failed');
}
