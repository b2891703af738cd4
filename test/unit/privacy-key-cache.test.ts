// The subject key store's cache in memory: a hit reads no row, yet an erasure committed by any
// other connection is seen — by the very next read when another store of this process made it, by
// the first read of a later event-loop callback when another process did (key, status, protect,
// reveal, erased) — and keys another process made are found; SQLite is asked once per callback;
// destroyed and dropped keys are zeroed in memory; the cache is bounded.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  ERASED_FIELDS,
  FieldEncryption,
  keyStorePath,
  person,
  personalDataOf,
  SubjectKeyStore,
  type EventEnvelope,
} from '../../appliance/index.js';
import { fileTempDir } from '../support/temp-dir.js';

const dir = fileTempDir('key-cache');
let n = 0;
const stateDir = () => join(dir.path, `state-${++n}`);
const personalData = personalDataOf([person]);

const registered = (personId: string, id = `e-${personId}`): EventEnvelope => ({
  v: 1,
  id,
  domain: 'person',
  aggregate: 'Person',
  aggregateId: personId,
  seq: 1,
  type: 'PersonRegistered',
  typeVersion: 1,
  at: '2026-12-01T00:00:00.000Z',
  correlationId: 'c',
  causationId: 'c',
  actor: 'test',
  payload: { personId, name: `Name of ${personId}`, email: `${personId}@example.org` },
  prev: null,
});

const erasedPayload = (personId: string) => ({
  personId,
  name: null,
  email: null,
  [ERASED_FIELDS]: ['name', 'email'],
});

/** Runs SQL against the key store's file in another node process (a real other connection and process). */
function inAnotherProcess(path: string, sql: string, params: unknown[]) {
  const script = `const D = require('better-sqlite3'); const db = new D(process.argv[1]);
    db.pragma('busy_timeout = 5000');
    const params = JSON.parse(process.argv[3]).map((p) => (p && p.hex !== undefined ? Buffer.from(p.hex, 'hex') : p));
    db.prepare(process.argv[2]).run(...params); db.close();`;
  execFileSync(process.execPath, ['-e', script, path, sql, JSON.stringify(params)], { cwd: process.cwd() });
}

/** Lets the event loop run its next callback: what a request sent after another process's commit arrives in. */
const nextCallback = () => new Promise((resolve) => setImmediate(resolve));

describe('subject key cache', () => {
  it('asks SQLite whether the file changed once per event-loop callback, not per read', async () => {
    const keys = SubjectKeyStore.open(stateDir());
    keys.keyForWrite('ada');
    await nextCallback();
    const version = vi.spyOn((keys as unknown as { dataVersion: { get: () => number } }).dataVersion, 'get');
    for (let i = 0; i < 10; i++) expect(keys.status('ada')).toBe('active');
    expect(version).toHaveBeenCalledTimes(1);
    await nextCallback();
    for (let i = 0; i < 10; i++) expect(keys.status('ada')).toBe('active');
    expect(version).toHaveBeenCalledTimes(2);
    keys.close();
  });

  it('answers repeated reads from memory, without reading the row again', () => {
    const keys = SubjectKeyStore.open(stateDir());
    const fe = new FieldEncryption(personalData, keys);
    const made = Buffer.from(keys.keyForWrite('ada'));
    const select = vi.spyOn((keys as unknown as { select: { get: (id: string) => unknown } }).select, 'get');
    for (let i = 0; i < 10; i++) {
      expect(Buffer.from(keys.key('ada')!).equals(made)).toBe(true);
      expect(keys.status('ada')).toBe('active');
      expect(fe.erased('person', 'ada')).toBe(false);
      fe.reveal(fe.protect(registered('ada', `e-${i}`)));
    }
    expect(select).not.toHaveBeenCalled();
    keys.close();
  });

  it('sees a key destroyed through another connection at the next read, and keys it made', async () => {
    const state = stateDir();
    const here = SubjectKeyStore.open(state);
    const there = SubjectKeyStore.open(state);
    const fe = new FieldEncryption(personalData, here);
    const stored = fe.protect(registered('ada'));
    const plain = registered('ada').payload;
    expect(fe.reveal(stored).payload).toEqual(plain);
    expect(here.status('bob')).toBe('unknown'); // cached as unknown…
    const bob = Buffer.from(there.keyForWrite('bob'));
    expect(Buffer.from(here.key('bob')!).equals(bob)).toBe(true); // …and found once the other made it
    expect(here.status('bob')).toBe('active');

    const held = here.borrowKey('ada')!;
    expect(held.some((b) => b !== 0)).toBe(true);
    expect(await there.destroy('ada')).toBe('erased');
    expect(here.key('ada')).toBeUndefined();
    expect(held.every((b) => b === 0)).toBe(true); // the dropped copy of the key is zeroed
    expect(here.status('ada')).toBe('erased');
    expect(fe.erased('person', 'ada')).toBe(true);
    expect(fe.reveal(stored).payload).toEqual(erasedPayload('ada'));
    expect(() => fe.protect(registered('ada', 'e-2'))).toThrow(expect.objectContaining({ code: 'CIM-REJECTED' }));
    expect(Buffer.from(here.key('bob')!).equals(bob)).toBe(true);
    here.close();
    there.close();
  });

  it('sees each of key, status, reveal, protect and erased answer "erased" right after another connection destroys', async () => {
    for (const read of ['key', 'status', 'reveal', 'protect', 'erased'] as const) {
      const state = stateDir();
      const here = SubjectKeyStore.open(state);
      const there = SubjectKeyStore.open(state);
      const fe = new FieldEncryption(personalData, here);
      const stored = fe.protect(registered('ada'));
      expect(fe.erased('person', 'ada')).toBe(false); // everything about ada is cached now
      await there.destroy('ada');
      if (read === 'key') expect(here.key('ada')).toBeUndefined();
      if (read === 'status') expect(here.status('ada')).toBe('erased');
      if (read === 'reveal') expect(fe.reveal(stored).payload).toEqual(erasedPayload('ada'));
      if (read === 'protect') expect(() => fe.protect(registered('ada', 'e-2'))).toThrow(/was erased/);
      if (read === 'erased') expect(fe.erased('person', 'ada')).toBe(true);
      here.close();
      there.close();
    }
  });

  it('sees a key destroyed by another process at the first read of a later callback, and keys that process made', async () => {
    const state = stateDir();
    const here = SubjectKeyStore.open(state);
    const fe = new FieldEncryption(personalData, here);
    const stored = fe.protect(registered('ada'));
    expect(fe.reveal(stored).payload).toEqual(registered('ada').payload);
    expect(here.status('carol')).toBe('unknown');
    const held = here.borrowKey('ada')!;

    inAnotherProcess(
      keyStorePath(state),
      'UPDATE subject_keys SET key = NULL, erased_at = ? WHERE subject_id = ? AND erased_at IS NULL',
      [new Date().toISOString(), 'ada'],
    );
    // A request sent after the other process's erasure returned arrives in a later callback.
    await nextCallback();
    expect(fe.erased('person', 'ada')).toBe(true);
    expect(here.status('ada')).toBe('erased');
    expect(here.key('ada')).toBeUndefined();
    expect(fe.reveal(stored).payload).toEqual(erasedPayload('ada'));
    expect(held.every((b) => b === 0)).toBe(true);

    const carol = Buffer.alloc(32, 7);
    inAnotherProcess(keyStorePath(state), 'INSERT INTO subject_keys (subject_id, key, created_at) VALUES (?, ?, ?)', [
      'carol',
      { hex: carol.toString('hex') },
      new Date().toISOString(),
    ]);
    await nextCallback();
    expect(here.status('carol')).toBe('active');
    expect(Buffer.from(here.keyForWrite('carol')).equals(carol)).toBe(true);
    here.close();
  });

  it('zeroes a key it destroys itself, and hands out copies that stay the caller’s', async () => {
    const keys = SubjectKeyStore.open(stateDir());
    const copy = keys.keyForWrite('ada');
    const kept = Buffer.from(copy);
    const held = keys.borrowKey('ada')!;
    expect(held).not.toBe(copy);
    expect(await keys.destroy('ada')).toBe('erased');
    expect(held.every((b) => b === 0)).toBe(true);
    expect(Buffer.from(copy).equals(kept)).toBe(true); // the caller's copy is the caller's to drop
    expect(keys.status('ada')).toBe('erased');
    expect(keys.borrowKey('ada')).toBeUndefined();
    keys.close();
  });

  it('is bounded: the oldest entries are dropped (and zeroed) past its size', () => {
    const keys = SubjectKeyStore.open(stateDir(), { cacheEntries: 10 });
    const first = keys.borrowKeyForWrite('p-0');
    for (let i = 1; i < 25; i++) keys.keyForWrite(`p-${i}`);
    expect(keys.cachedSubjects).toBeLessThanOrEqual(10);
    expect(first.every((b) => b === 0)).toBe(true);
    // A dropped entry is read from the file again, unchanged.
    const again = keys.key('p-0')!;
    expect(again.some((b) => b !== 0)).toBe(true);
    expect(Buffer.from(keys.key('p-0')!).equals(Buffer.from(again))).toBe(true);
    keys.close();
  });
});
