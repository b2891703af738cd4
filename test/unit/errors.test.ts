// Each error class exits with its documented code (docs/architecture.md#exit-codes); an error that
// is not the appliance's own is an internal one with a code of its own, not "infrastructure
// unavailable".
import { describe, expect, it } from 'vitest';
import { CimError, ExitCode, toCimError } from '../../appliance/index.js';

describe('exit codes', () => {
  it.each([
    ['CIM-INVALID-INPUT', ExitCode.usage],
    ['CIM-NOT-FOUND', ExitCode.usage],
    ['CIM-REJECTED', ExitCode.checkFailed],
    ['CIM-UNAVAILABLE', ExitCode.unavailable],
    ['CIM-INTERNAL', ExitCode.internal],
  ] as const)('%s exits %i', (code, exit) => {
    expect(new CimError(code, 'x').exitCode).toBe(exit);
  });

  it('turns a NATS error that means "not there" (503, timeout) into CIM-UNAVAILABLE, exit 3', () => {
    const nats = Object.assign(new Error('503'), { name: 'NatsError', code: '503' });
    expect(toCimError(nats)).toMatchObject({ code: 'CIM-UNAVAILABLE', exitCode: 3 });
    const other = Object.assign(new Error('bad subject'), { name: 'NatsError', code: 'BAD_SUBJECT' });
    expect(toCimError(other).code).toBe('CIM-INTERNAL');
  });

  it('turns an unexpected error into CIM-INTERNAL, exit 4', () => {
    const cim = toCimError(new TypeError('undefined is not a function'));
    expect(cim.code).toBe('CIM-INTERNAL');
    expect(cim.exitCode).toBe(4);
  });
});
