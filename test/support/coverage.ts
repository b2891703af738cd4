// Makes the code vitest runs inside its workers count in c8's report (with vitest.config.ts, which
// has the workers import the appliance from dist/ under c8). Does nothing unless c8 set NODE_V8_COVERAGE.
//
// vitest stops a fork worker with SIGTERM, and SIGKILL half a second later; a process ended by a
// signal never writes its V8 coverage (nodejs/node#55094). So the coverage is written once the
// file's tests and hooks are done (this file's afterAll runs last), and the worker exits on SIGTERM
// to write whatever ran after that.
import { takeCoverage } from 'node:v8';
import { afterAll } from 'vitest';

if (process.env.NODE_V8_COVERAGE) {
  if (process.listenerCount('SIGTERM') === 0) process.once('SIGTERM', () => process.exit());
  afterAll(() => takeCoverage());
}
