// `cim serve`'s structured logs: one JSON object per line with level, time, msg and the trace ids
// the active span gives; the text form for terminals; error fields that never carry a message
// made from a user's input.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CimError, createLogger, errorFields, isClientError, resolveLogFormat } from '../../appliance/index.js';

function collect() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('writes one JSON object per line with level, time, msg, the fields and the trace ids', () => {
    const { lines, destination } = collect();
    const span: { active?: { traceId: string; spanId: string } } = {};
    const logger = createLogger({ format: 'json', destination, traceContext: () => span.active });
    logger.info({ correlationId: 'c-1' }, 'command refused');
    span.active = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' };
    logger.error('sealer person: CIM-UNAVAILABLE');
    logger.debug('not at info');
    expect(lines).toHaveLength(2);
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toEqual({ level: 'info', time: expect.any(String), msg: 'command refused', correlationId: 'c-1' });
    expect(new Date(first!.time as string).toISOString()).toBe(first!.time);
    expect(second).toMatchObject({ level: 'error', traceId: span.active.traceId, spanId: span.active.spanId });
  });

  it('writes `cim: msg key=value` lines in the text form, control characters escaped', () => {
    const { lines, destination } = collect();
    const logger = createLogger({ format: 'text', level: 'debug', destination });
    logger.debug({ domain: 'person', seconds: 0.5 }, 'command handled');
    logger.warn('odd\u202e\nname');
    expect(lines).toEqual(['cim: command handled domain=person seconds=0.5', 'cim: warn: odd\\u202e\\u000aname']);
  });

  it('picks JSON unless stderr is a terminal', () => {
    expect(resolveLogFormat('auto', { isTTY: true })).toBe('text');
    expect(resolveLogFormat('auto', { isTTY: false })).toBe('json');
    expect(resolveLogFormat('json', { isTTY: true })).toBe('json');
  });
});

describe('errorFields', () => {
  it('keeps the message of an error made from input out of the log', () => {
    expect(errorFields(new CimError('CIM-REJECTED', 'person ada@example.org is already registered'))).toEqual({
      code: 'CIM-REJECTED',
    });
    expect(errorFields(new CimError('CIM-CONFLICT', 'person/ada: still contended'))).toEqual({ code: 'CIM-CONFLICT' });
    expect(errorFields(new CimError('CIM-UNAVAILABLE', 'no leader for\u202e CIM_PERSON'))).toEqual({
      code: 'CIM-UNAVAILABLE',
      error: 'no leader for\\u202e CIM_PERSON',
    });
    expect(isClientError('CIM-INVALID-INPUT')).toBe(true);
    expect(isClientError('CIM-INTERNAL')).toBe(false);
  });
});
