// The exact-set assertion on verification findings fails on an extra, a missing or a different
// finding, and passes whatever the order.
import { describe, expect, it } from 'vitest';
import type { DomainVerification, Finding } from '../../appliance/index.js';
import { expectFindings } from '../support/findings.js';

const f = (kind: Finding['kind'], streamSeq: number, more: Partial<Finding> = {}): Finding => ({
  kind,
  domain: 'd',
  stream: 'CIM_D',
  streamSeq,
  message: `${kind} at ${streamSeq}`,
  ...more,
});
const verification = (findings: Finding[]) => ({ findings, findingsOmitted: 0 }) as unknown as DomainVerification;
const found = [
  f('missing-event', 5, { expected: 'seq 5..5', actual: 'absent' }),
  f('chain-broken', 7, { aggregateId: 'a', expected: 'x', actual: 'y' }),
];

describe('expectFindings', () => {
  it('passes on the same findings in another order, with matchers for values and messages', () => {
    expectFindings(verification(found), [
      {
        kind: 'chain-broken',
        stream: 'CIM_D',
        streamSeq: 7,
        aggregateId: 'a',
        expected: 'x',
        actual: expect.any(String),
        message: expect.stringContaining('at 7'),
      },
      { kind: 'missing-event', stream: 'CIM_D', streamSeq: 5, expected: 'seq 5..5', actual: 'absent' },
    ]);
  });

  it('fails on an extra finding, a missing one, a different sequence, a field left unnamed, or a message that differs', () => {
    const missing = {
      kind: 'missing-event',
      stream: 'CIM_D',
      streamSeq: 5,
      expected: 'seq 5..5',
      actual: 'absent',
    } as const;
    const broken = {
      kind: 'chain-broken',
      stream: 'CIM_D',
      streamSeq: 7,
      aggregateId: 'a',
      expected: 'x',
      actual: 'y',
    } as const;
    expect(() => expectFindings(verification(found), [missing])).toThrow();
    expect(() => expectFindings(verification(found), [missing, broken, { ...missing, streamSeq: 9 }])).toThrow();
    expect(() => expectFindings(verification(found), [missing, { ...broken, streamSeq: 8 }])).toThrow();
    const unnamed: Record<string, unknown> = { ...broken };
    delete unnamed.aggregateId;
    expect(() => expectFindings(verification(found), [missing, unnamed as never])).toThrow();
    expect(() => expectFindings(verification(found), [missing, { ...broken, message: 'something else' }])).toThrow(
      /differ/,
    );
  });

  it('pairs each expected finding with a distinct one: two alike do not match one twice', () => {
    const twice = [f('seal-signature', 3, { actual: 'c' }), f('seal-signature', 3, { actual: 'c', expected: 'b' })];
    const loose = { kind: 'seal-signature', stream: 'CIM_SEALS', streamSeq: 3, actual: 'c' } as const;
    expect(() =>
      expectFindings(verification(twice.map((x) => ({ ...x, stream: 'CIM_SEALS' }))), [loose, loose]),
    ).toThrow();
  });

  it('fails when findings were omitted beyond the cap', () => {
    expect(() => expectFindings({ findings: [], findingsOmitted: 1 } as unknown as DomainVerification, [])).toThrow(
      /beyond the cap/,
    );
  });
});
