// Writing a report: chain it to the newest report of its kind, add a checkpoint (and the
// consistency proof from the previous one, and the tree head as a signed C2SP checkpoint note)
// when it covers events, sign it, append it to the ledger — the source of truth, holding its
// bytes — and then write its files once (the note as `<cid>.checkpoint`).
import { CimError, consistencyProof, merkleRoot, verifyConsistency, type Signer } from '../appliance/index.js';
import { decodeReport, encodeReport, plainData, signReport } from './document.js';
import { reportFile, writeOnce } from './files.js';
import { Ledger } from './ledger.js';
import { signCheckpoint } from './signed-note.js';
import {
  REPORT_VERSION,
  type NamedReport,
  type ReportBaseline,
  type ReportCheckpoint,
  type ReportEnvironment,
  type ReportFinding,
  type ReportKind,
} from './types.js';

export interface NewReport {
  kind: ReportKind;
  title: string;
  environment: ReportEnvironment;
  config: Record<string, unknown>;
  scenario?: string[];
  results: unknown;
  findings: ReportFinding[];
  baseline?: ReportBaseline;
  /**
   * The event CIDs (bytes) the report covers, in order, for a signed checkpoint: the Merkle tree
   * over them, and a consistency proof that it extends the previous report's tree.
   */
  checkpointLeaves?: readonly Uint8Array[] | CheckpointTree;
  /**
   * The checkpoint's origin line (and its note's key name): with it, the checkpoint is also signed
   * as a C2SP tlog-checkpoint note, carried in the report and written to `<cid>.checkpoint`.
   */
  checkpointOrigin?: string;
  /**
   * Instead of leaves: keep the previous report's tree head (the same size and root, an empty
   * proof), for when the leaves read now do not extend it — a log never signs a tree head
   * inconsistent with one it signed before.
   */
  keepPreviousCheckpoint?: boolean;
}

export interface WriteOptions {
  stateDir: string;
  signer: Signer;
  /** The renderings to write beside the `.cbor`, by file extension. */
  render?: (named: NamedReport) => Record<string, string>;
  now?: Date;
}

export interface WrittenReport {
  named: NamedReport;
  /** Files written, by extension (`cbor`, `json`, `md`, `html`, …). */
  files: Record<string, string>;
}

export function writeReport(input: NewReport, options: WriteOptions): WrittenReport {
  const ledger = Ledger.open(options.stateDir);
  try {
    const prevCid = ledger.head(input.kind);
    const prev = prevCid ? decodeReport(ledger.get(prevCid)!.bytes, prevCid) : undefined;
    const named = signReport(
      {
        v: REPORT_VERSION,
        kind: input.kind,
        title: input.title,
        createdAt: (options.now ?? new Date()).toISOString(),
        environment: plainData(input.environment),
        config: plainData(input.config),
        ...(input.scenario ? { scenario: input.scenario } : {}),
        results: plainData(input.results ?? null),
        findings: plainData(input.findings),
        ...(input.baseline
          ? { baseline: { ...plainData({ ...input.baseline, cid: undefined }), cid: input.baseline.cid } }
          : {}),
        ...checkpointField(input, prev?.report.checkpoint, options.signer),
        prev: prev?.cid ?? null,
      },
      options.signer,
    );
    const bytes = encodeReport(named.report);
    ledger.addKey(options.signer.keyId, options.signer.publicKeyPem);
    ledger.append(named, bytes);
    // Rendered from the bytes, as `cim report verify` renders: the same text whatever the input's key order.
    return {
      named,
      files: writeReportFiles(options.stateDir, decodeReport(bytes, `report ${named.cid}`), bytes, options.render),
    };
  } finally {
    ledger.close();
  }
}

/** Writes the `.cbor` and each rendering once; a file that exists is left as it is (re-rendering an old report). */
export function writeReportFiles(
  stateDir: string,
  named: NamedReport,
  bytes: Uint8Array,
  render?: WriteOptions['render'],
): Record<string, string> {
  const cid = named.cid.toString();
  const files: Record<string, string> = {};
  const note = named.report.checkpoint?.note;
  const contents: Record<string, Uint8Array | string> = {
    cbor: bytes,
    ...(render ? render(named) : {}),
    ...(note ? { checkpoint: note } : {}),
  };
  for (const [extension, content] of Object.entries(contents)) {
    const path = reportFile(stateDir, cid, extension);
    writeOnce(path, content);
    files[extension] = path;
  }
  return files;
}

function checkpointField(
  input: NewReport,
  previous: ReportCheckpoint | undefined,
  signer: Signer,
): { checkpoint?: ReportCheckpoint } {
  let checkpoint: ReportCheckpoint | undefined;
  if (input.keepPreviousCheckpoint) {
    if (!previous) throw new CimError('CIM-INVALID-INPUT', `there is no previous ${input.kind} checkpoint to keep`);
    const head = { treeSize: previous.treeSize, root: previous.root };
    checkpoint = { ...head, ...(head.treeSize > 0 ? { previous: head, consistencyProof: [] } : {}) };
  } else if (input.checkpointLeaves) {
    checkpoint = checkpointOver(input.checkpointLeaves, previous);
  }
  if (!checkpoint) return {};
  if (input.checkpointOrigin)
    checkpoint.note = signCheckpoint(input.checkpointOrigin, checkpoint.treeSize, checkpoint.root, signer);
  return { checkpoint };
}

/**
 * A Merkle tree over a copy of some leaves, computing its root and each consistency proof once:
 * reports written together over the same leaves (`cim comply`'s three) share one.
 */
export class CheckpointTree {
  readonly leaves: readonly Uint8Array[];
  #root: Uint8Array | undefined;
  readonly #proofs = new Map<number, Uint8Array[]>();

  constructor(leaves: readonly Uint8Array[]) {
    this.leaves = [...leaves];
  }

  get size(): number {
    return this.leaves.length;
  }

  root(): Uint8Array {
    return (this.#root ??= merkleRoot(this.leaves));
  }

  /** The consistency proof from the tree of the first `oldSize` leaves (1 ≤ oldSize ≤ size). */
  proofFrom(oldSize: number): Uint8Array[] {
    let proof = this.#proofs.get(oldSize);
    if (!proof) this.#proofs.set(oldSize, (proof = consistencyProof(this.leaves, oldSize)));
    return proof;
  }

  /** Whether this tree extends a tree head: as large at least, and a consistency proof from it verifies. */
  extends(head: { treeSize: number; root: Uint8Array }): boolean {
    if (head.treeSize > this.size) return false;
    if (head.treeSize === 0) return sameBytes(head.root, merkleRoot([]));
    return verifyConsistency(head.treeSize, this.size, head.root, this.root(), this.proofFrom(head.treeSize));
  }
}

/** Whether leaves extend a tree head: at least as many, and the first `treeSize` of them hash to its root. */
export function leavesExtend(
  leaves: readonly Uint8Array[] | CheckpointTree,
  head: { treeSize: number; root: Uint8Array },
): boolean {
  return (leaves instanceof CheckpointTree ? leaves : new CheckpointTree(leaves)).extends(head);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function checkpointOver(
  leaves: readonly Uint8Array[] | CheckpointTree,
  previous: ReportCheckpoint | undefined,
): ReportCheckpoint {
  const tree = leaves instanceof CheckpointTree ? leaves : new CheckpointTree(leaves);
  const checkpoint: ReportCheckpoint = { treeSize: tree.size, root: tree.root() };
  // A proof exists only from a non-empty tree that this one extends.
  if (previous && previous.treeSize > 0 && previous.treeSize <= tree.size) {
    checkpoint.previous = { treeSize: previous.treeSize, root: previous.root };
    checkpoint.consistencyProof = tree.proofFrom(previous.treeSize);
  }
  return checkpoint;
}
