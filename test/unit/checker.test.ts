// The checker on histories with known answers: a clean run, a lost acknowledgement, data nobody
// asked for, a command applied twice, and outcomes that were never known.
import { describe, expect, it } from 'vitest';
import { checkHistory, type Attempt, type ReadItem } from '../../bench/checker.js';

const ok = (id: string, ...acked: string[]): Attempt => ({ id, outcome: 'ok', acked });
const item = (key: string, attemptId: string | undefined, type = 'E'): ReadItem => ({
  key,
  attemptId,
  origin: `${attemptId}#${type}`,
  where: `S#${key}`,
});

describe('checkHistory', () => {
  it('passes a history where everything acknowledged is read back once', () => {
    const verdict = checkHistory(
      [ok('a', 'c1', 'c2'), ok('b', 'c3'), { id: 'x', outcome: 'failed', acked: [] }],
      [item('c1', 'a', 'E1'), item('c2', 'a', 'E2'), item('c3', 'b')],
    );
    expect(verdict).toMatchObject({
      attempted: 3,
      acknowledged: 2,
      failed: 1,
      unknown: 0,
      ackedItems: 3,
      readItems: 3,
      lost: 0,
      unexpected: 0,
      duplicates: 0,
      ok: true,
    });
  });

  it('counts an acknowledged event that is not in the stream as lost, and names it and what it was', () => {
    const verdict = checkHistory(
      [ok('a', 'c1'), { ...ok('b', 'c2'), label: 'person.RenamePerson' }],
      [item('c1', 'a')],
    );
    expect(verdict).toMatchObject({ lost: 1, ok: false, lostBy: { 'person.RenamePerson': 1 } });
    expect(verdict.samples.lost).toEqual(['c2 (person.RenamePerson)']);
  });

  it('counts events no attempted operation caused as unexpected', () => {
    const verdict = checkHistory([ok('a', 'c1')], [item('c1', 'a'), item('c9', 'stranger'), item('c8', undefined)]);
    expect(verdict).toMatchObject({ unexpected: 2, lost: 0, ok: false });
    expect(verdict.samples.unexpected[0]).toContain('stranger');
  });

  it('counts one command applied twice, and one message stored twice, as duplicates', () => {
    // The second application has another CID (another chain position) but the same origin.
    const twice = checkHistory([ok('a', 'c1')], [item('c1', 'a'), item('c1-again', 'a')]);
    expect(twice).toMatchObject({ duplicates: 1, unexpected: 0, lost: 0, ok: false });
    const sameKey = checkHistory([ok('a', 'k')], [item('k', 'a', 'X'), item('k', 'a', 'Y')]);
    expect(sameKey.duplicates).toBe(1);
  });

  it('treats what an operation of unknown outcome left behind as neither lost nor unexpected', () => {
    const applied = checkHistory([{ id: 't', outcome: 'unknown', acked: [] }], [item('c1', 't')]);
    const notApplied = checkHistory([{ id: 't', outcome: 'unknown', acked: [] }], []);
    for (const verdict of [applied, notApplied])
      expect(verdict).toMatchObject({ unknown: 1, lost: 0, unexpected: 0, duplicates: 0, ok: true });
  });

  it('fails when acknowledged items are missing from the read-back, naming exactly those', () => {
    const attempts = [
      ok('a', 'c1'),
      { ...ok('b', 'c2'), label: 'person.RenamePerson' },
      { ...ok('c', 'c3'), label: 'workflow.StartWorkflow' },
    ];
    const read = [item('c1', 'a'), item('c2', 'b'), item('c3', 'c')];
    expect(checkHistory(attempts, read).ok).toBe(true);
    const verdict = checkHistory(attempts, [read[0]!]);
    expect(verdict).toMatchObject({
      lost: 2,
      readItems: 1,
      unexpected: 0,
      duplicates: 0,
      ok: false,
      lostBy: { 'person.RenamePerson': 1, 'workflow.StartWorkflow': 1 },
    });
    expect(verdict.samples.lost.sort()).toEqual(['c2 (person.RenamePerson)', 'c3 (workflow.StartWorkflow)']);
  });

  it('counts an acknowledged event read back with other bytes (another CID, same operation) as lost, not as unexpected', () => {
    // What an event altered in place looks like: its stored bytes hash to another CID, its
    // causation still names the operation.
    const verdict = checkHistory([ok('a', 'c1'), ok('b', 'c2')], [item('c1', 'a'), item('c2-altered', 'b')]);
    expect(verdict).toMatchObject({ lost: 1, unexpected: 0, duplicates: 0, ok: false });
    expect(verdict.samples.lost).toEqual(['c2']);
  });

  it('keeps samples short', () => {
    const attempts = Array.from({ length: 50 }, (_, i) => ok(`a${i}`, `c${i}`));
    const verdict = checkHistory(attempts, [], { sampleSize: 5 });
    expect(verdict.lost).toBe(50);
    expect(verdict.samples.lost).toHaveLength(5);
  });
});
