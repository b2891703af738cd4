// Checkpoints as C2SP signed notes: the independent verifier (test/support/signed-note-verify.ts,
// written from the specification's text) accepts the specification's own example and the
// appliance's notes, and both it and the appliance's own reader refuse every tampering; reports
// written with a checkpoint origin carry the note, write it once as `<cid>.checkpoint`, and
// `verifyReport` names a changed note, file or key.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cidOfBlock, merkleRoot, Signer } from '../../appliance/index.js';
import {
  checkpointOrigin,
  decodeReport,
  encodeReport,
  Ledger,
  leavesExtend,
  openNote,
  parseCheckpointText,
  parseVerifierKey,
  reportFile,
  renderFiles,
  signCheckpoint,
  signNote,
  signReport,
  verifierKey,
  verifyReport,
  writeReport,
  type NewReport,
} from '../../reports/index.js';
import { parseVkey, verifyCheckpoint, verifyNote } from '../support/signed-note-verify.js';
import { tempDir } from '../support/temp-dir.js';

// The example of c2sp.org/signed-note, section "Verifier keys".
const SPEC_VKEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const SPEC_NOTE =
  'This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';

const leaves = (n: number) =>
  Array.from({ length: n }, (_, i) => cidOfBlock(new TextEncoder().encode(`event ${i}`)).bytes);

describe('the specification example', () => {
  it('verifies with the independent verifier and with the appliance reader', () => {
    expect(verifyNote(SPEC_NOTE, [SPEC_VKEY])).toEqual({
      text: 'This is an example message.\n',
      signers: ['example.com/foo'],
    });
    expect(parseVkey(SPEC_VKEY).id).toBe(0x530d903a);
    expect(openNote(SPEC_NOTE, [parseVerifierKey(SPEC_VKEY)]).text).toBe('This is an example message.\n');
  });

  it('is refused by both once a byte of its text changes, or with no known key', () => {
    const changed = SPEC_NOTE.replace('example message', 'example massage');
    expect(() => verifyNote(changed, [SPEC_VKEY])).toThrow(/does not verify/);
    expect(() => openNote(changed, [parseVerifierKey(SPEC_VKEY)])).toThrow(/does not verify/);
    const other = verifierKey('example.com/foo', Signer.ephemeral().publicKeyPem);
    expect(() => verifyNote(SPEC_NOTE, [other])).toThrow(/no signature from a known key/);
    expect(() => openNote(SPEC_NOTE, [parseVerifierKey(other)])).toThrow(/no signature by a known key/);
  });

  it('refuses malformed verifier keys', () => {
    for (const bad of [
      SPEC_VKEY.replace('530d903a', '530d903b'),
      SPEC_VKEY.replace('example.com/foo', 'example.com/bar'),
      'example.com/foo+530d903a',
      SPEC_VKEY.slice(0, -4),
    ]) {
      expect(() => parseVerifierKey(bad)).toThrow(/no verifier key/);
      expect(() => parseVkey(bad)).toThrow(/vkey/);
    }
  });
});

describe("the appliance's checkpoint notes", () => {
  const signer = Signer.ephemeral();
  const origin = checkpointOrigin('cim');
  const vkey = verifierKey(origin, signer.publicKeyPem);

  it('are tlog checkpoints the independent verifier accepts', () => {
    const root = merkleRoot(leaves(5));
    const note = signCheckpoint(origin, 5, root, signer);
    expect(origin).toBe('cim-appliance/cim/compliance');
    expect(note.split('\n').slice(0, 4)).toEqual([origin, '5', Buffer.from(root).toString('base64'), '']);
    const checkpoint = verifyCheckpoint(note, [vkey]);
    expect(checkpoint).toMatchObject({ origin, size: 5, signers: [origin], extensions: [] });
    expect(checkpoint.root.equals(Buffer.from(root))).toBe(true);
    expect(parseCheckpointText(openNote(note, [parseVerifierKey(vkey)]).text).treeSize).toBe(5);
  });

  it('state an empty tree as size 0 and the root of no leaves', () => {
    const note = signCheckpoint(origin, 0, merkleRoot([]), signer);
    expect(verifyCheckpoint(note, [vkey]).size).toBe(0);
  });

  it('are refused when the size, root or signature changes', () => {
    const note = signCheckpoint(origin, 5, merkleRoot(leaves(5)), signer);
    expect(() => verifyCheckpoint(note.replace('\n5\n', '\n6\n'), [vkey])).toThrow(/does not verify/);
    const blob = note.split(' ').at(-1)!.trim();
    const flipped = Buffer.from(blob, 'base64');
    flipped[10]! ^= 1;
    expect(() => verifyNote(note.replace(blob, flipped.toString('base64')), [vkey])).toThrow(/does not verify/);
    expect(() => verifyNote(note, [verifierKey(origin, Signer.ephemeral().publicKeyPem)])).toThrow(/known key/);
  });

  it('keep a second signature by an unknown key from mattering (it is ignored)', () => {
    const other = Signer.ephemeral();
    const text = `${origin}\n1\n${Buffer.from(merkleRoot(leaves(1))).toString('base64')}\n`;
    const mine = signNote(text, origin, signer);
    const theirs = signNote(text, 'witness.example/w1', other).split('\n\n')[1]!;
    expect(verifyNote(`${mine}${theirs}`, [vkey]).signers).toEqual([origin]);
  });

  it('refuse key names with spaces or plus signs', () => {
    expect(() => checkpointOrigin('a b')).toThrow(/no note key name/);
    expect(() => checkpointOrigin('a+b')).toThrow(/no note key name/);
  });
});

describe('reports with a checkpoint note', () => {
  let dir: ReturnType<typeof tempDir>;
  let signer: Signer;
  let ledger: Ledger;
  const origin = checkpointOrigin('cim');
  const environment = {
    node: 'v20',
    platform: 'linux-x64',
    cpu: { model: 'test', cores: 2 },
    memoryBytes: 1,
    appliance: 'cim-appliance@test',
    natsServers: [],
  };
  const input = (n: number, over: Partial<NewReport> = {}): NewReport => ({
    kind: 'compliance',
    title: 'compliance report',
    environment,
    config: {},
    results: null,
    findings: [{ id: 'durability:sync-interval:n1', check: 'durability', severity: 'high', message: 'default sync' }],
    checkpointLeaves: leaves(n),
    checkpointOrigin: origin,
    ...over,
  });
  const write = (n: number, over: Partial<NewReport> = {}) =>
    writeReport(input(n, over), { stateDir: dir.path, signer, render: renderFiles });
  const verify = (ref: string, extra: Partial<Parameters<typeof verifyReport>[1]> = {}) =>
    verifyReport(ref, { stateDir: dir.path, ledger, trusted: [signer.verifier()], render: renderFiles, ...extra });

  beforeEach(() => {
    dir = tempDir('signed-note');
    signer = Signer.ephemeral();
    ledger = Ledger.open(dir.path);
  });
  afterEach(() => {
    ledger.close();
    dir.remove();
  });

  it('write the note once beside the report, and it verifies with the vkey', () => {
    const first = write(3);
    const second = write(7);
    const note = readFileSync(second.files.checkpoint!, 'utf8');
    expect(note).toBe(second.named.report.checkpoint!.note);
    const vkey = verifierKey(origin, signer.publicKeyPem);
    expect(verifyCheckpoint(note, [vkey])).toMatchObject({ origin, size: 7 });
    expect(verifyCheckpoint(readFileSync(first.files.checkpoint!), [vkey]).size).toBe(3);
    const result = verify(second.named.cid.toString());
    expect(result.problems).toEqual([]);
    expect(result.checked.join('\n')).toMatch(/checkpoint note \(origin cim-appliance\/cim\/compliance, 7 events\)/);
    expect(verify(second.named.cid.toString(), { noteKeys: [parseVerifierKey(vkey)] }).ok).toBe(true);
  });

  it('name a .checkpoint file that was changed', () => {
    const written = write(3);
    const path = written.files.checkpoint!;
    chmodSync(path, 0o644);
    writeFileSync(path, readFileSync(path, 'utf8').replace('\n3\n', '\n4\n'));
    const result = verify(written.named.cid.toString());
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      `${reportFile(dir.path, written.named.cid.toString(), 'checkpoint')}: differs from the rendering of the verified report — the file was changed`,
    ]);
  });

  it('name a note signed by another key, or one that states another tree head', () => {
    const other = Signer.ephemeral();
    const head = write(3).named;
    const foreign = signCheckpoint(origin, 3, head.report.checkpoint!.root, other);
    const forged = signReport({ ...head.report, checkpoint: { ...head.report.checkpoint!, note: foreign } }, signer);
    const wrongHead = signReport(
      {
        ...head.report,
        checkpoint: { ...head.report.checkpoint!, note: signCheckpoint(origin, 2, merkleRoot(leaves(2)), signer) },
      },
      signer,
    );
    for (const [named, problem] of [
      [forged, /checkpoint note: signed note: no signature by a known key/],
      [wrongHead, /checkpoint note states a tree of 2 with root .*, but the report's checkpoint is 3/],
    ] as const) {
      const path = `${dir.path}/${named.cid.toString()}.cbor`;
      writeFileSync(path, encodeReport(named.report));
      expect(decodeReport(readFileSync(path)).cid.toString()).toBe(named.cid.toString());
      const result = verify(path);
      expect(result.problems.join('\n')).toMatch(problem);
    }
    expect(
      verify(head.cid.toString(), { noteKeys: [parseVerifierKey(verifierKey(origin, other.publicKeyPem))] }).problems,
    ).toEqual([expect.stringMatching(/checkpoint note: signed note: no signature by a known key/)]);
  });

  it('keep the previous tree head when told to, with an empty proof that verifies', () => {
    write(4);
    const kept = write(0, { checkpointLeaves: undefined, keepPreviousCheckpoint: true });
    expect(kept.named.report.checkpoint).toMatchObject({
      treeSize: 4,
      previous: { treeSize: 4 },
      consistencyProof: [],
    });
    expect(verify(kept.named.cid.toString()).problems).toEqual([]);
    expect(leavesExtend(leaves(6), { treeSize: 4, root: merkleRoot(leaves(4)) })).toBe(true);
    expect(leavesExtend(leaves(3), { treeSize: 4, root: merkleRoot(leaves(4)) })).toBe(false);
    expect(leavesExtend(leaves(6).reverse(), { treeSize: 4, root: merkleRoot(leaves(4)) })).toBe(false);
  });
});
