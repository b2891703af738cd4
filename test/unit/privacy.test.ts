// The privacy layer without NATS: the field cipher (round trip, ciphertext bound to its place,
// tampering detected), the subject key store (modes, one key per subject, a destruction by
// another store seen at once, destruction leaves no copy of the key in any of its files), field encryption of an
// envelope, and the read model's erasure leaving no plaintext in the SQLite files.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  decryptField,
  encodeEnvelope,
  encryptField,
  ERASED_FIELDS,
  FieldEncryption,
  keyStorePath,
  person,
  personalDataOf,
  ReadModel,
  SubjectKeyStore,
  type EventEnvelope,
} from '../../appliance/index.js';
import { fileTempDir } from '../support/temp-dir.js';

const dir = fileTempDir('privacy');
let n = 0;
const stateDir = () => join(dir.path, `state-${++n}`);

const place = { domain: 'person', aggregateId: 'ada', eventId: 'e-1', field: 'name' };

/** Every file under `root`, recursively, with its bytes. */
function filesUnder(root: string): { path: string; bytes: Buffer }[] {
  const out: { path: string; bytes: Buffer }[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push({ path, bytes: readFileSync(path) });
  }
  return out;
}

/** The files under `root` holding any of `needles` (bytes). */
function holding(root: string, needles: Buffer[]): string[] {
  return filesUnder(root)
    .filter((f) => needles.some((needle) => f.bytes.includes(needle)))
    .map((f) => f.path);
}

/** A key as raw bytes and as the hex and base64 text a leak might take. */
const keyForms = (key: Uint8Array) => {
  const b = Buffer.from(key);
  return [b, Buffer.from(b.toString('hex')), Buffer.from(b.toString('base64')), Buffer.from(b.toString('base64url'))];
};

describe('field cipher', () => {
  const key = randomBytes(32);

  it('round-trips any dag-cbor value, with a fresh IV each time', () => {
    for (const value of ['Ada Lovelace', 'ada@example.org', { nested: [1, 'two'] }, 42]) {
      const sealed = encryptField(key, place, value);
      expect(decryptField(key, place, sealed)).toEqual(value);
    }
    const a = encryptField(key, place, 'same');
    const b = encryptField(key, place, 'same');
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(a).includes(Buffer.from('same'))).toBe(false);
  });

  it('refuses ciphertext moved to another place (its associated data)', () => {
    const sealed = encryptField(key, place, 'Ada');
    for (const moved of [
      { ...place, field: 'email' },
      { ...place, eventId: 'e-2' },
      { ...place, aggregateId: 'bob' },
      { ...place, domain: 'other' },
    ]) {
      expect(() => decryptField(key, moved, sealed)).toThrow(/does not authenticate/);
    }
  });

  it('refuses tampered ciphertext, IV or tag, and the wrong key', () => {
    const sealed = encryptField(key, place, 'Ada Lovelace');
    for (const at of [1, 13, sealed.length - 20, sealed.length - 1]) {
      const tampered = Uint8Array.from(sealed);
      tampered[at]! ^= 0x01;
      expect(() => decryptField(key, place, tampered), `byte ${at}`).toThrow(
        expect.objectContaining({ code: 'CIM-INVALID-EVENT' }),
      );
    }
    expect(() => decryptField(randomBytes(32), place, sealed)).toThrow(/does not authenticate/);
    expect(() => decryptField(key, place, sealed.subarray(0, 20))).toThrow(/not an encrypted field/);
  });
});

describe('subject key store', () => {
  it('is private to its owner: directory 0700, files 0600', () => {
    const state = stateDir();
    const keys = SubjectKeyStore.open(state);
    keys.keyForWrite('ada');
    expect(statSync(join(state, 'privacy')).mode & 0o777).toBe(0o700);
    for (const f of filesUnder(join(state, 'privacy'))) expect(statSync(f.path).mode & 0o777, f.path).toBe(0o600);
    keys.close();
  });

  it('makes one random key per subject, the same for every process, and tells unknown from erased', async () => {
    const state = stateDir();
    const a = SubjectKeyStore.open(state);
    const b = SubjectKeyStore.open(state);
    expect(a.status('ada')).toBe('unknown');
    expect(a.key('ada')).toBeUndefined();
    const key = a.keyForWrite('ada');
    expect(key).toHaveLength(32);
    expect(Buffer.from(b.keyForWrite('ada')).equals(Buffer.from(key))).toBe(true);
    expect(Buffer.from(a.keyForWrite('bob')).equals(Buffer.from(key))).toBe(false);
    expect(b.status('ada')).toBe('active');

    // Destroyed through one store: gone in the other at once (its cache is dropped), and never made again.
    expect(await a.destroy('ada')).toBe('erased');
    expect(b.key('ada')).toBeUndefined();
    expect(b.status('ada')).toBe('erased');
    expect(() => b.keyForWrite('ada')).toThrow(expect.objectContaining({ code: 'CIM-REJECTED' }));
    expect(await b.destroy('ada')).toBe('already-erased');
    expect(await b.destroy('nobody')).toBe('unknown');
    expect(b.key('bob')).toBeDefined();
    a.close();
    b.close();
  });

  it('leaves no copy of a destroyed key in any of its files, also while another connection reads', async () => {
    const state = stateDir();
    const keys = SubjectKeyStore.open(state, { scrubTimeoutMs: 10_000 });
    const made = Array.from({ length: 50 }, (_, i) => keys.keyForWrite(`p-${i}`));
    const victim = Buffer.from(keys.keyForWrite('victim'));
    for (let i = 50; i < 100; i++) keys.keyForWrite(`p-${i}`);
    expect(holding(join(state, 'privacy'), keyForms(victim)).length).toBeGreaterThan(0);

    // A reader of another process holding a read transaction open holds the checkpoint back.
    const reader = new Database(keyStorePath(state));
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM subject_keys').get();
    let done = false;
    const destroyed = keys.destroy('victim').then((r) => ((done = true), r));
    await new Promise((r) => setTimeout(r, 200));
    expect(done).toBe(false);
    reader.exec('COMMIT');
    reader.close();
    expect(await destroyed).toBe('erased');

    expect(holding(join(state, 'privacy'), keyForms(victim))).toEqual([]);
    // The other subjects' keys are all still there and unchanged.
    for (let i = 0; i < 50; i++) expect(Buffer.from(keys.key(`p-${i}`)!).equals(Buffer.from(made[i]!))).toBe(true);
    keys.close();
  });
});

describe('field encryption', () => {
  const personalData = personalDataOf([person]);
  const envelope = (payload: Record<string, unknown>, id = 'e-1'): EventEnvelope => ({
    v: 1,
    id,
    domain: 'person',
    aggregate: 'Person',
    aggregateId: 'ada',
    seq: 1,
    type: 'PersonRegistered',
    typeVersion: 1,
    at: '2026-12-01T00:00:00.000Z',
    correlationId: 'c',
    causationId: 'c',
    actor: 'test',
    payload,
    prev: null,
  });

  it('encrypts the declared fields before encoding and decrypts them on reading', async () => {
    const keys = SubjectKeyStore.open(stateDir());
    const fe = new FieldEncryption(personalData, keys);
    const plain = envelope({ personId: 'ada', name: 'Ada Lovelace', email: 'ada@example.org' });
    const stored = fe.protect(plain);
    expect(stored.payload.personId).toBe('ada');
    expect(stored.payload.name).toBeInstanceOf(Uint8Array);
    const bytes = Buffer.from(encodeEnvelope(stored).bytes);
    expect(bytes.includes(Buffer.from('Ada Lovelace'))).toBe(false);
    expect(bytes.includes(Buffer.from('ada@example.org'))).toBe(false);
    expect(fe.reveal(stored).payload).toEqual(plain.payload);

    // Without the key store, and once erased: the fields read as erased, not as an error.
    const erasedPayload = { personId: 'ada', name: null, email: null, [ERASED_FIELDS]: ['name', 'email'] };
    expect(new FieldEncryption(personalData, undefined).reveal(stored).payload).toEqual(erasedPayload);
    expect(fe.erased('person', 'ada')).toBe(false);
    await keys.destroy('ada');
    expect(fe.reveal(stored).payload).toEqual(erasedPayload);
    expect(fe.erased('person', 'ada')).toBe(true);
    expect(() => fe.protect(plain)).toThrow(expect.objectContaining({ code: 'CIM-REJECTED' }));
    // Events of other types and domains pass as they are.
    const archived = { ...plain, type: 'PersonArchived', payload: { personId: 'ada' } };
    expect(fe.protect(archived)).toBe(archived);
    keys.close();
  });

  it('refuses ciphertext moved to another event', () => {
    const keys = SubjectKeyStore.open(stateDir());
    const fe = new FieldEncryption(personalData, keys);
    const stored = fe.protect(envelope({ personId: 'ada', name: 'Ada', email: 'a@example.org' }));
    expect(() => fe.reveal({ ...stored, id: 'e-2' })).toThrow(expect.objectContaining({ code: 'CIM-INVALID-EVENT' }));
    keys.close();
  });
});

describe('read-model erasure', () => {
  it("deletes the subject's rows and leaves none of its old or current values in the files", async () => {
    const state = stateDir();
    const keys = SubjectKeyStore.open(state);
    const fe = new FieldEncryption(personalDataOf([person]), keys);
    const path = join(dir.path, `model-${++n}.sqlite`);
    const projection = person.definition.projections![0]!;
    const model = ReadModel.open({ path, projections: [projection] });
    let seq = 0;
    const event = (aggregateId: string, type: string, payload: Record<string, unknown>, protect = true) => ({
      streamSeq: ++seq,
      envelope: (protect ? (e: EventEnvelope) => fe.protect(e) : (e: EventEnvelope) => e)({
        v: 1,
        id: `e-${seq}`,
        domain: 'person',
        aggregate: 'Person',
        aggregateId,
        seq: 1,
        type,
        typeVersion: 1,
        at: '2026-12-01T00:00:00.000Z',
        correlationId: 'c',
        causationId: 'c',
        actor: 'test',
        payload,
        prev: null,
      }),
    });
    const reveal = (e: EventEnvelope) => fe.reveal(e);
    const others = Array.from({ length: 200 }, (_, i) =>
      event(`p-${i}`, 'PersonRegistered', { personId: `p-${i}`, name: `Other ${i}`, email: `o${i}@example.org` }),
    );
    model.applyBatch('person_directory', 'person', others.slice(0, 100), seq, reveal);
    const victim = [
      event('victim', 'PersonRegistered', { personId: 'victim', name: 'Grace Hopper', email: 'grace@navy.example' }),
      event('victim', 'PersonRenamed', { personId: 'victim', name: 'Grace B. Hopper' }),
      event('victim', 'PersonEmailChanged', { personId: 'victim', email: 'hopper@cobol.example' }),
    ];
    model.applyBatch('person_directory', 'person', victim, seq, reveal);
    model.applyBatch('person_directory', 'person', others.slice(100), seq, reveal);
    const secrets = ['Grace Hopper', 'Grace B. Hopper', 'grace@navy.example', 'hopper@cobol.example'].map((s) =>
      Buffer.from(s),
    );
    expect(model.query('person_directory', 'GetPerson', { personId: 'victim' })).toMatchObject({
      name: 'Grace B. Hopper',
      email: 'hopper@cobol.example',
    });

    expect(holding(dir.path, secrets).length).toBeGreaterThan(0); // the scan sees them while they are there
    await keys.destroy('victim');
    expect(await model.eraseSubject('victim')).toBe(1);
    expect(model.query('person_directory', 'GetPerson', { personId: 'victim' })).toBeNull();
    expect(holding(dir.path, secrets)).toEqual([]);
    expect(model.query('person_directory', 'GetPerson', { personId: 'p-7' })).toMatchObject({ name: 'Other 7' });

    // A later event of the erased subject brings back a row without its personal data.
    model.applyBatch(
      'person_directory',
      'person',
      [event('victim', 'PersonArchived', { personId: 'victim' }, false)],
      seq,
      reveal,
    );
    expect(model.query('person_directory', 'GetPerson', { personId: 'victim' })).toMatchObject({
      name: null,
      email: null,
      status: 'archived',
    });
    model.close();
    keys.close();
  });
});
