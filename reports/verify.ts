// `cim report verify`: recomputes everything a report claims and says exactly what does not hold —
// the CID from the bytes (the `.cbor` file's name and the ledger's copy must agree with it), the
// signature against trusted keys, every rendering against a fresh rendering of the verified bytes,
// the `prev` chain back to the first report of its kind, a checkpoint's consistency proof
// against the previous report's checkpoint, and the checkpoint's signed note: its signature (by the
// trusted keys, or the verifier keys given) and that it states the report's tree size and root.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { verifyConsistency, type Verifier } from '../appliance/index.js';
import { decodeReport, reportSignedBy } from './document.js';
import { reportFile } from './files.js';
import type { Ledger } from './ledger.js';
import { noteKeyId, openNote, parseCheckpointText, type NoteVerifierKey } from './signed-note.js';
import type { NamedReport } from './types.js';

export interface ReportVerification {
  cid: string;
  ok: boolean;
  /** Every problem found, each naming the file, link or field. */
  problems: string[];
  /** What was checked and held, for the user to see the scope. */
  checked: string[];
  /** The chain walked: this report and its predecessors, newest first. */
  chain: string[];
}

export interface VerifyReportOptions {
  stateDir: string;
  ledger: Ledger;
  trusted: readonly Verifier[];
  /**
   * The keys a checkpoint note must be signed by (`cim report verify --key <vkey>`); without them,
   * each trusted key under the key names the note's signature lines give.
   */
  noteKeys?: readonly NoteVerifierKey[];
  /**
   * Set by `verifyReport` for a `.cbor` file given while the ledger holds no report at all (an
   * auditor's copy of the report files): the directory the report, its renderings and its `prev`
   * chain are read from instead of the state dir and the ledger.
   */
  filesDir?: string;
  /** Renders a report in a format by extension, to compare the files with; formats not given are not compared. */
  render?: (named: NamedReport) => Record<string, string>;
}

/** Verifies a report named by a ledger reference or given as a `.cbor` file. */
export function verifyReport(ref: string, options: VerifyReportOptions): ReportVerification {
  const problems: string[] = [];
  const checked: string[] = [];
  let named: NamedReport;
  let source: string;
  if (ref.endsWith('.cbor') && existsSync(ref)) {
    source = ref;
    try {
      named = decodeReport(readFileSync(ref), ref);
    } catch (error) {
      // Bytes that are no report (truncated, altered past decoding) are what verification is
      // for: a failed check, not a usage error.
      const message = (error as Error).message;
      return { cid: basename(ref, '.cbor'), ok: false, problems: [message], checked: [], chain: [] };
    }
    const claimed = basename(ref, '.cbor');
    if (/^b[a-z2-7]{20,}$/.test(claimed) && claimed !== named.cid.toString()) {
      problems.push(
        `${ref}: the file is named ${claimed}, but its bytes have the CID ${named.cid.toString()} — the bytes were changed`,
      );
    }
  } else {
    const entry = options.ledger.resolve(ref);
    source = `ledger entry ${entry.cid}`;
    named = decodeReport(entry.bytes, source);
    if (named.cid.toString() !== entry.cid)
      problems.push(`${source}: the stored bytes have the CID ${named.cid.toString()}, not ${entry.cid}`);
  }
  const cid = named.cid.toString();
  checked.push(`CID ${cid} recomputed from ${source}`);
  // Files alone (no ledger here): the report's own directory stands in for the ledger and state dir.
  if (ref.endsWith('.cbor') && options.ledger.list({ limit: 1 }).length === 0) {
    options = { ...options, filesDir: dirname(ref) };
    checked.push(
      `no ledger in this state dir: the report, its renderings and its prev chain read from ${dirname(ref)}`,
    );
  }

  checkSignature(named, options.trusted, `report ${cid}`, problems, checked);
  checkNote(named, options, problems, checked);
  checkFiles(named, options, problems, checked);
  const chain = checkChain(named, options, problems, checked);
  return { cid, ok: problems.length === 0, problems, checked, chain };
}

function checkSignature(
  named: NamedReport,
  trusted: readonly Verifier[],
  what: string,
  problems: string[],
  checked: string[],
): void {
  const verifier = trusted.find((v) => v.keyId === named.report.signer);
  if (!verifier)
    problems.push(
      `${what}: signed by ${named.report.signer}, which is not a trusted key (trusted: ${trusted.map((v) => v.keyId).join(', ') || 'none'})`,
    );
  else if (!reportSignedBy(named, verifier))
    problems.push(`${what}: the signature does not verify with ${verifier.keyId}`);
  else checked.push(`${what}: signature by ${verifier.keyId}`);
}

/** The ledger's copy and the files in the state dir must be exactly this report and its renderings. */
function checkFiles(named: NamedReport, options: VerifyReportOptions, problems: string[], checked: string[]): void {
  const cid = named.cid.toString();
  const fileOf = (extension: string) =>
    options.filesDir ? join(options.filesDir, `${cid}.${extension}`) : reportFile(options.stateDir, cid, extension);
  const entry = options.ledger.get(cid);
  const cborPath = fileOf('cbor');
  if (!entry && !options.filesDir) problems.push(`report ${cid} is not in the ledger ${options.ledger.path}`);
  if (existsSync(cborPath)) {
    const file = decodeOrProblem(readFileSync(cborPath), cborPath, problems);
    if (file && file.cid.toString() !== cid)
      problems.push(`${cborPath}: its bytes have the CID ${file.cid.toString()} — the file was changed`);
    else if (file) checked.push(`${cborPath}: CID recomputed`);
  }
  const renderings = options.render?.(named) ?? {};
  for (const [extension, expected] of Object.entries(renderings)) {
    const path = fileOf(extension);
    if (!existsSync(path)) continue;
    if (readFileSync(path, 'utf8') !== expected)
      problems.push(`${path}: differs from the rendering of the verified report — the file was changed`);
    else checked.push(`${path}: same as a fresh rendering`);
  }
}

function decodeOrProblem(bytes: Uint8Array, source: string, problems: string[]): NamedReport | undefined {
  try {
    return decodeReport(bytes, source);
  } catch (error) {
    problems.push((error as Error).message);
    return undefined;
  }
}

/** Walks `prev` to the first report of the kind, checking each link, signature and checkpoint. */
function checkChain(named: NamedReport, options: VerifyReportOptions, problems: string[], checked: string[]): string[] {
  const chain = [named.cid.toString()];
  let current = named;
  const seen = new Set(chain);
  while (current.report.prev) {
    const prevCid = current.report.prev.toString();
    const what = `report ${current.cid.toString()}`;
    if (seen.has(prevCid)) {
      problems.push(`${what}: prev ${prevCid} closes a loop`);
      break;
    }
    const prevFile = options.filesDir ? join(options.filesDir, `${prevCid}.cbor`) : undefined;
    const entry = prevFile
      ? existsSync(prevFile)
        ? { bytes: readFileSync(prevFile), source: prevFile }
        : undefined
      : options.ledger.get(prevCid) && { bytes: options.ledger.get(prevCid)!.bytes, source: `ledger entry ${prevCid}` };
    if (!entry) {
      problems.push(
        `${what}: prev ${prevCid} is ${prevFile ? `not in ${options.filesDir}` : 'not in the ledger'} — the chain is broken`,
      );
      break;
    }
    const previous = decodeOrProblem(entry.bytes, entry.source, problems);
    if (!previous) break;
    if (previous.cid.toString() !== prevCid) {
      problems.push(`${what}: prev ${prevCid} is stored with bytes whose CID is ${previous.cid.toString()}`);
      break;
    }
    if (previous.report.kind !== current.report.kind)
      problems.push(`${what}: prev ${prevCid} is a ${previous.report.kind} report, not ${current.report.kind}`);
    if (previous.report.createdAt > current.report.createdAt)
      problems.push(`${what}: created ${current.report.createdAt}, before its prev (${previous.report.createdAt})`);
    checkCheckpoint(current, previous, problems, checked);
    checkSignature(previous, options.trusted, `report ${prevCid}`, problems, checked);
    checkNote(previous, options, problems, checked);
    seen.add(prevCid);
    chain.push(prevCid);
    current = previous;
  }
  if (!current.report.prev) checked.push(`chain of ${chain.length} ${named.report.kind} report(s) back to the first`);
  return chain;
}

function checkCheckpoint(current: NamedReport, previous: NamedReport, problems: string[], checked: string[]): void {
  const now = current.report.checkpoint;
  const before = previous.report.checkpoint;
  const what = `report ${current.cid.toString()}`;
  if (!now || !before || before.treeSize === 0) return;
  if (!now.previous || !now.consistencyProof) {
    problems.push(
      `${what}: its checkpoint has no consistency proof from the previous checkpoint (size ${before.treeSize})`,
    );
    return;
  }
  if (now.previous.treeSize !== before.treeSize || !sameBytes(now.previous.root, before.root)) {
    problems.push(
      `${what}: its checkpoint claims to extend a tree of ${now.previous.treeSize}, but the previous report's checkpoint is a tree of ${before.treeSize} with another root`,
    );
    return;
  }
  if (!verifyConsistency(before.treeSize, now.treeSize, before.root, now.root, now.consistencyProof)) {
    problems.push(
      `${what}: the consistency proof from ${before.treeSize} to ${now.treeSize} events does not verify — the covered events were rewritten, or the proof is forged`,
    );
  } else {
    checked.push(`${what}: checkpoint of ${now.treeSize} events extends the previous ${before.treeSize}`);
  }
}

/** The checkpoint's signed note: signed by a known key, and stating exactly the report's tree head. */
function checkNote(named: NamedReport, options: VerifyReportOptions, problems: string[], checked: string[]): void {
  const checkpoint = named.report.checkpoint;
  if (!checkpoint?.note) return;
  const what = `report ${named.cid.toString()}: its checkpoint note`;
  const keys = options.noteKeys ?? keysFromTrusted(checkpoint.note, options.trusted);
  let text: string;
  let signers: string[];
  try {
    ({ text, verifiedBy: signers } = openNote(checkpoint.note, keys));
  } catch (error) {
    problems.push(`${what}: ${(error as Error).message}`);
    return;
  }
  let head: ReturnType<typeof parseCheckpointText>;
  try {
    head = parseCheckpointText(text);
  } catch (error) {
    problems.push(`${what}: ${(error as Error).message}`);
    return;
  }
  if (head.treeSize !== checkpoint.treeSize || !sameBytes(head.root, checkpoint.root)) {
    problems.push(
      `${what} states a tree of ${head.treeSize} with root ${Buffer.from(head.root).toString('base64')}, but the report's checkpoint is ${checkpoint.treeSize} with root ${Buffer.from(checkpoint.root).toString('base64')}`,
    );
    return;
  }
  checked.push(`${what} (origin ${head.origin}, ${head.treeSize} events) is signed by ${signers.join(', ')}`);
}

/** Each trusted Ed25519 key as a note key under each key name the note's signature lines give. */
function keysFromTrusted(note: string, trusted: readonly Verifier[]): NoteVerifierKey[] {
  const names = [...note.matchAll(/^\u2014 (\S+) /gmu)].map((m) => m[1]!);
  const keys: NoteVerifierKey[] = [];
  for (const verifier of trusted) {
    const raw = new Uint8Array(Buffer.from(verifier.keyId.replace(/^ed25519:/, ''), 'base64url'));
    if (raw.length !== 32) continue;
    const publicKey = verifier.publicKey();
    for (const name of new Set(names)) keys.push({ name, keyId: noteKeyId(name, raw), publicKey, raw });
  }
  return keys;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
