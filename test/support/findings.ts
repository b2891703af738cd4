// Exact assertions on what `verifyDomain` found: the whole list of findings against the whole
// expected list, each finding by kind, stream, stream sequence, aggregate and expected/actual
// values, in any order (several checks may name one sequence). An extra, a missing or a
// different finding fails, and the failure shows both lists.
import { expect } from 'vitest';
import type { DomainVerification, Finding, FindingKind } from '../../appliance/index.js';

/** A finding as a test names it; values may be asymmetric matchers (expect.stringContaining …). */
export interface ExpectedFinding {
  kind: FindingKind;
  stream: string;
  /** Absent for findings about a stream as a whole (missing, seals removed). */
  streamSeq?: number;
  aggregateId?: unknown;
  expected?: unknown;
  actual?: unknown;
  /** Compared only when given. */
  message?: unknown;
}

function project(f: Finding, withMessage: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: f.kind, stream: f.stream, streamSeq: f.streamSeq };
  if (f.aggregateId !== undefined) out.aggregateId = f.aggregateId;
  if (f.expected !== undefined) out.expected = f.expected;
  if (f.actual !== undefined) out.actual = f.actual;
  if (withMessage) out.message = f.message;
  return out;
}

function matches(actual: Finding, wanted: ExpectedFinding): boolean {
  try {
    expect(project(actual, 'message' in wanted)).toEqual(wanted);
    return true;
  } catch {
    return false;
  }
}

/** Pairs every expected finding with a distinct actual one (backtracking; the lists are short). */
function pair(
  actual: Finding[],
  wanted: ExpectedFinding[],
  used: boolean[],
  at = 0,
  chosen: number[] = [],
): number[] | undefined {
  if (at === wanted.length) return chosen;
  for (let i = 0; i < actual.length; i++) {
    if (used[i] || !matches(actual[i]!, wanted[at]!)) continue;
    used[i] = true;
    const found = pair(actual, wanted, used, at + 1, [...chosen, i]);
    if (found) return found;
    used[i] = false;
  }
  return undefined;
}

/** Asserts that the verification found exactly `wanted`, in any order, and counted no omitted findings. */
export function expectFindings(v: DomainVerification, wanted: ExpectedFinding[]): void {
  expect(v.findingsOmitted, 'findings beyond the cap').toBe(0);
  const pairing = actualPairing(v.findings, wanted);
  if (pairing) return;
  // No exact pairing: compare the lists side by side so the diff shows what is extra or missing.
  const byPosition = (f: { stream: string; streamSeq?: number | undefined; kind: string }) =>
    `${f.stream}\u0000${String(f.streamSeq ?? 0).padStart(12, '0')}\u0000${f.kind}`;
  const actual = [...v.findings].sort((a, b) =>
    byPosition({ ...a, streamSeq: a.streamSeq ?? 0 }).localeCompare(byPosition({ ...b, streamSeq: b.streamSeq ?? 0 })),
  );
  expect(
    actual.map((f) => project(f, false)),
    'the findings',
  ).toEqual(
    [...wanted].sort((a, b) => byPosition(a).localeCompare(byPosition(b))).map(({ message: _m, ...rest }) => rest),
  );
  // Same fields but a message matcher failed: show that.
  expect.fail(`the findings differ from the expected ones:\n${JSON.stringify(v.findings, null, 2)}`);
}

function actualPairing(actual: Finding[], wanted: ExpectedFinding[]): number[] | undefined {
  if (actual.length !== wanted.length) return undefined;
  return pair(
    actual,
    wanted,
    actual.map(() => false),
  );
}
