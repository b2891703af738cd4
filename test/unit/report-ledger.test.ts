// Reports as documents and the ledger, with real files and a real SQLite ledger: written once,
// chained, verifiable offline — and every kind of tampering is caught and named: a flipped byte
// in any file, a wrong signature, a broken prev link, a forged consistency proof, a second write.
import Database from 'better-sqlite3';
import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CID, cidOfBlock, Signer } from '../../appliance/index.js';
import {
  decodeReport,
  encodeReport,
  Ledger,
  reportFile,
  signReport,
  verifyReport,
  writeOnce,
  writeReport,
  type NamedReport,
  type NewReport,
} from '../../reports/index.js';
import { tempDir } from '../support/temp-dir.js';

const environment = {
  node: 'v20',
  platform: 'linux-x64',
  cpu: { model: 'test', cores: 2 },
  memoryBytes: 1,
  appliance: 'cim-appliance@test',
  natsServers: [{ name: 'n1', version: '2.9.10' }],
};
const leaves = (n: number) =>
  Array.from({ length: n }, (_, i) => cidOfBlock(new TextEncoder().encode(`event ${i}`)).bytes);
const newReport = (over: Partial<NewReport> = {}): NewReport => ({
  kind: 'audit',
  title: 'audit report',
  environment,
  config: { stateDir: '.cim' },
  results: { events: 3, ratio: 0.5, optional: undefined },
  findings: [{ id: 'none', severity: 'info', message: 'all good' }],
  ...over,
});
// A rendering the verifier can recompute: here plain JSON of the title and CID.
const render = (named: NamedReport) => ({
  json: JSON.stringify({ cid: named.cid.toString(), title: named.report.title }),
});

let dir: ReturnType<typeof tempDir>;
let signer: Signer;
let ledger: Ledger;
const verify = (ref: string, trusted = [signer.verifier()]) =>
  verifyReport(ref, { stateDir: dir.path, ledger, trusted, render });

beforeEach(() => {
  dir = tempDir('reports');
  signer = Signer.ephemeral();
  ledger = Ledger.open(dir.path);
});
afterEach(() => {
  ledger.close();
  dir.remove();
});

/** Writes a copy of a report's `.cbor` with a change, as a tamperer would, and returns its path. */
function tampered(
  named: NamedReport,
  change: (report: NamedReport['report']) => NamedReport['report'],
  name = 'tampered.cbor',
): string {
  const path = join(dir.path, name);
  writeFileSync(path, encodeReport(change(structuredClone(named.report))));
  return path;
}

describe('writing reports', () => {
  it('round-trips: the files, the ledger and the decoded report agree on one CID', () => {
    const { named, files } = writeReport(newReport(), { stateDir: dir.path, signer, render });
    const cid = named.cid.toString();
    expect(Object.keys(files).sort()).toEqual(['cbor', 'json']);
    expect(files.cbor).toBe(reportFile(dir.path, cid, 'cbor'));
    const decoded = decodeReport(readFileSync(files.cbor!));
    expect(decoded.cid.toString()).toBe(cid);
    expect(decoded.report.results).toEqual({ events: 3, ratio: 0.5 });
    expect(ledger.resolve('latest').cid).toBe(cid);
    expect(ledger.resolve(cid.slice(0, 12)).cid).toBe(cid);
    expect(readFileSync(files.json!, 'utf8')).toContain(cid);
  });

  it('chains reports of a kind and writes files read-only', () => {
    const first = writeReport(newReport({ checkpointLeaves: leaves(3) }), { stateDir: dir.path, signer }).named;
    const second = writeReport(newReport({ checkpointLeaves: leaves(7) }), { stateDir: dir.path, signer }).named;
    const other = writeReport(newReport({ kind: 'performance', title: 'perf' }), { stateDir: dir.path, signer }).named;
    expect(first.report.prev).toBeNull();
    expect(second.report.prev?.toString()).toBe(first.cid.toString());
    expect(other.report.prev).toBeNull();
    expect(second.report.checkpoint).toMatchObject({ treeSize: 7, previous: { treeSize: 3 } });
    expect(readFileSync(reportFile(dir.path, second.cid.toString(), 'cbor')).length).toBeGreaterThan(0);
    expect(statSync(reportFile(dir.path, second.cid.toString(), 'cbor')).mode & 0o777).toBe(0o444);
  });

  it('refuses a second write of the same report, and a report that does not follow the head', () => {
    const { named } = writeReport(newReport(), { stateDir: dir.path, signer });
    expect(() => ledger.append(named, encodeReport(named.report))).toThrow(
      expect.objectContaining({ code: 'CIM-INVALID-INPUT' }),
    );
    expect(() => writeOnce(reportFile(dir.path, named.cid.toString(), 'cbor'), 'again')).toThrow(/written once/);
    const stale = signReport({ ...named.report, title: 'written against an old head', prev: null }, signer);
    expect(() => ledger.append(stale, encodeReport(stale.report))).toThrow(
      expect.objectContaining({ code: 'CIM-CONFLICT' }),
    );
  });

  it('keeps the ledger append-only: UPDATE and DELETE are refused by the database itself', () => {
    writeReport(newReport(), { stateDir: dir.path, signer });
    ledger.addBaseline('default', ledger.resolve('latest').cid);
    const raw = new Database(join(dir.path, 'ledger.sqlite'));
    try {
      expect(() => raw.prepare("UPDATE reports SET title = 'rewritten'").run()).toThrow(/append-only/);
      expect(() => raw.prepare('DELETE FROM reports').run()).toThrow(/append-only/);
      expect(() => raw.prepare('DELETE FROM baselines').run()).toThrow(/append-only/);
      expect(() => raw.prepare("UPDATE signing_keys SET key_id = 'x'").run()).toThrow(/append-only/);
    } finally {
      raw.close();
    }
    expect(ledger.list()).toHaveLength(1);
  });

  it('given an interrupted run after a complete one, latest and latest:<kind> pass over it; latest-any includes it', () => {
    const complete = writeReport(newReport({ kind: 'performance', results: { interrupted: false } }), {
      stateDir: dir.path,
      signer,
    }).named.cid.toString();
    const interrupted = writeReport(
      newReport({ kind: 'performance', title: 'cut short', results: { interrupted: true } }),
      { stateDir: dir.path, signer },
    ).named.cid.toString();
    expect(ledger.resolve('latest:performance').cid).toBe(complete);
    expect(ledger.resolve('latest').cid).toBe(complete);
    expect(ledger.resolve('latest-any:performance').cid).toBe(interrupted);
    expect(ledger.resolve('latest-any').cid).toBe(interrupted);
    expect(ledger.head('performance')).toBe(interrupted); // the chain still goes through it
    expect(() => ledger.resolve('latest:compliance')).toThrow(expect.objectContaining({ code: 'CIM-NOT-FOUND' }));
  });

  it('given a ledger deleted, or emptied by dropping its tables, while signed reports remain on disk, refuses to open it (CIM-VERIFY-FAILED)', () => {
    const { named } = writeReport(newReport(), { stateDir: dir.path, signer });
    const cid = named.cid.toString();
    ledger.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir.path, `ledger.sqlite${suffix}`), { force: true });
    expect(() => Ledger.open(dir.path)).toThrow(
      expect.objectContaining({
        code: 'CIM-VERIFY-FAILED',
        message: expect.stringContaining(`lacks 1 signed report found in ${join(dir.path, 'reports')} (${cid})`),
      }),
    );

    // A ledger made anew: the triggers refuse DELETE, but a whole table can be dropped.
    const raw = new Database(join(dir.path, 'ledger.sqlite'));
    raw.exec('DROP TABLE IF EXISTS reports');
    raw.close();
    expect(() => Ledger.open(dir.path)).toThrow(expect.objectContaining({ code: 'CIM-VERIFY-FAILED' }));
    ledger = Ledger.open(join(dir.path, 'elsewhere')); // for afterEach
  });
});

describe('verifying reports', () => {
  let chain: NamedReport[];
  beforeEach(() => {
    chain = [3, 5, 9].map(
      (n) => writeReport(newReport({ checkpointLeaves: leaves(n) }), { stateDir: dir.path, signer, render }).named,
    );
  });

  it('accepts an untouched chain: CIDs, signatures, files, links and consistency proofs', () => {
    const result = verify(chain[2]!.cid.toString());
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.chain).toEqual(chain.map((n) => n.cid.toString()).reverse());
    expect(result.checked.join('\n')).toMatch(/extends the previous 5/);
  });

  it('catches one flipped byte in the .cbor file and in a rendering', () => {
    const cid = chain[1]!.cid.toString();
    for (const extension of ['cbor', 'json']) {
      const path = reportFile(dir.path, cid, extension);
      chmodSync(path, 0o644);
      const bytes = readFileSync(path);
      bytes[bytes.length - 3]! ^= 0x01;
      writeFileSync(path, bytes);
      const result = verify(cid);
      expect(result.ok).toBe(false);
      expect(result.problems.join('\n')).toContain(path);
      writeFileSync(
        path,
        readFileSync(path).map((b, i) => (i === bytes.length - 3 ? b ^ 0x01 : b)),
      );
    }
    expect(verify(cid).ok).toBe(true);
  });

  it('names a file whose bytes were changed after it was named', () => {
    const path = tampered(chain[0]!, (r) => ({ ...r, title: 'a nicer title' }), `${chain[0]!.cid.toString()}.cbor`);
    const result = verify(path);
    expect(result.problems.join('\n')).toMatch(/bytes have the CID .* — the bytes were changed/);
  });

  it('catches a wrong signature and a signer that is not trusted', () => {
    const badSignature = tampered(chain[0]!, (r) => ({ ...r, signature: new Uint8Array(64) }));
    expect(verify(badSignature).problems.join('\n')).toMatch(/signature does not verify/);
    const stranger = Signer.ephemeral();
    const forged = join(dir.path, 'forged.cbor');
    writeFileSync(forged, encodeReport(signReport({ ...chain[0]!.report }, stranger).report));
    expect(verify(forged).problems.join('\n')).toMatch(/not a trusted key/);
  });

  it('catches a broken prev link', () => {
    const nowhere = CID.create(1, 0x71, cidOfBlock(new Uint8Array([1, 2, 3])).multihash);
    const path = join(dir.path, 'orphan.cbor');
    writeFileSync(path, encodeReport(signReport({ ...chain[1]!.report, prev: nowhere }, signer).report));
    expect(verify(path).problems.join('\n')).toMatch(/is not in the ledger — the chain is broken/);
  });

  it('catches a forged consistency proof', () => {
    const latest = chain[2]!.report;
    const proof = latest.checkpoint!.consistencyProof!.map((p) => p.slice());
    proof[0]![0]! ^= 0xff;
    const path = join(dir.path, 'forged-proof.cbor');
    writeFileSync(
      path,
      encodeReport(
        signReport({ ...latest, checkpoint: { ...latest.checkpoint!, consistencyProof: proof } }, signer).report,
      ),
    );
    expect(verify(path).problems.join('\n')).toMatch(/consistency proof from 5 to 9 events does not verify/);
  });
});
