// Replica comparison, pure: each stream's copies, one per server that holds a replica, compared
// against a reference copy (the stream leader's, else the one most others agree with). Message
// count and first/last sequence per copy; Merkle roots (RFC 6962) over the same sequence range,
// bisected down to the sequences that differ; each divergence named — replica, stream, kind
// (missing, extra, different), sequences — with which side the domain's seals agree with. How a
// copy is read from one server alone is the caller's business (appliance/cluster/block-files.ts).
import { createHash } from 'node:crypto';
import { domainStream } from '../eventstore/names.js';
import { cidBytesOf } from './chain-check.js';
import { merkleRoot } from './merkle.js';

export interface SeqRange {
  from: number;
  to: number;
}

export interface ReplicaView {
  server: string;
  stream: string;
  leader: boolean;
  messages: number;
  firstSeq: number;
  lastSeq: number;
}

export interface ReplicaDivergence {
  stream: string;
  /** The server whose copy differs. */
  replica: string;
  /** The server it was compared against (the leader, else the majority). */
  reference: string;
  /** missing: reference has seqs the replica lacks; extra: the opposite; different: same seq, other bytes. */
  kind: 'missing' | 'extra' | 'different';
  sequences: SeqRange[];
  agreesWithSeals?: 'replica' | 'reference' | 'neither' | 'unsealed';
}

export interface ReplicaComparison {
  streams: { stream: string; replicas: ReplicaView[] }[];
  divergences: ReplicaDivergence[];
  unreadable: { server: string; stream: string; reason: string }[];
}

/** One stored message of a copy: what the comparison hashes (not its timestamp). */
export interface ReplicaMessage {
  seq: number;
  subject: string;
  headers?: Uint8Array;
  data: Uint8Array;
}

/** One server's copy of one stream. */
export interface ReplicaCopy {
  server: string;
  stream: string;
  /** In sequence order, each sequence once. */
  messages: readonly ReplicaMessage[];
}

/** What a seal claims, as the comparison needs it: the domain, its range and its root over the events' CIDs. */
export interface SealClaim {
  domain: string;
  fromSeq: number;
  toSeq: number;
  merkleRoot: Uint8Array;
}

export interface CompareOptions {
  /** The stream's leader by stream (its copy is the reference); undefined while a stream has none. */
  leaders?: ReadonlyMap<string, string | undefined>;
  /** The seals of the domains (from the reference's copy of CIM_SEALS), to say which side they agree with. */
  seals?: readonly SealClaim[];
  unreadable?: ReplicaComparison['unreadable'];
}

const ABSENT = new Uint8Array(0);

/** The bytes a copy's message is compared by: subject, headers and body (the timestamp is left out). */
export function messageDigest(m: ReplicaMessage): Uint8Array {
  const hash = createHash('sha256');
  hash.update(m.subject).update('\0');
  hash.update(m.headers ?? ABSENT).update('\0');
  return hash.update(m.data).digest();
}

/**
 * Every sequence any copy holds, ascending: the positions the copies are compared at. Not the
 * range first..last: a bit flipped in a damaged record's sequence field makes it, say, 2^33 + 57,
 * and an array over that range would take the run's memory and time (a durability run hung so).
 */
function heldSequences(copies: readonly ReplicaCopy[]): number[] {
  const seqs = new Set<number>();
  for (const c of copies) for (const m of c.messages) seqs.add(m.seq);
  return [...seqs].sort((a, b) => a - b);
}

/** A copy as digests aligned with `seqs` (position i is seqs[i]), ABSENT where it holds no message. */
function alignedDigests(messages: readonly ReplicaMessage[], index: ReadonlyMap<number, number>): Uint8Array[] {
  const out: Uint8Array[] = new Array<Uint8Array>(index.size).fill(ABSENT);
  for (const m of messages) out[index.get(m.seq)!] = messageDigest(m);
  return out;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

/** Below this many sequences a range is compared leaf by leaf rather than split again. */
const LEAF_SCAN = 32;

/**
 * The sequences in [lo, hi] where two dense digest arrays (indexed from `base`) differ, found by
 * comparing Merkle roots over the range and bisecting where they differ.
 */
export function bisectDifferences(
  reference: readonly Uint8Array[],
  replica: readonly Uint8Array[],
  base = 1,
): number[] {
  const length = Math.max(reference.length, replica.length);
  const at = (list: readonly Uint8Array[], i: number) => list[i] ?? ABSENT;
  const out: number[] = [];
  const visit = (lo: number, hi: number) => {
    if (hi < lo) return;
    if (hi - lo < LEAF_SCAN) {
      for (let i = lo; i <= hi; i++) if (!sameBytes(at(reference, i), at(replica, i))) out.push(base + i);
      return;
    }
    const slice = (list: readonly Uint8Array[]) => Array.from({ length: hi - lo + 1 }, (_, k) => at(list, lo + k));
    if (sameBytes(merkleRoot(slice(reference)), merkleRoot(slice(replica)))) return;
    const mid = lo + Math.floor((hi - lo) / 2);
    visit(lo, mid);
    visit(mid + 1, hi);
  };
  visit(0, length - 1);
  return out;
}

/** Consecutive sequences folded into inclusive ranges. */
export function toRanges(seqs: readonly number[]): SeqRange[] {
  const out: SeqRange[] = [];
  for (const seq of [...seqs].sort((a, b) => a - b)) {
    const last = out.at(-1);
    if (last && seq === last.to + 1) last.to = seq;
    else if (!last || seq > last.to) out.push({ from: seq, to: seq });
  }
  return out;
}

/** Renders ranges as a reader says them: `57–60, 63`. */
export function describeRanges(ranges: readonly SeqRange[]): string {
  return ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}–${r.to}`)).join(', ');
}

/** One line per divergence: `replica n2 of CIM_PERSON is missing seq 57–60 (leader n1; the seals agree with n1)`. */
export function describeDivergence(d: ReplicaDivergence): string {
  const what = { missing: 'is missing', extra: 'has extra', different: 'holds other bytes at' }[d.kind];
  const seals =
    d.agreesWithSeals === undefined || d.agreesWithSeals === 'unsealed'
      ? d.agreesWithSeals === 'unsealed'
        ? '; unsealed'
        : ''
      : d.agreesWithSeals === 'neither'
        ? '; the seals agree with neither'
        : `; the seals agree with ${d.agreesWithSeals === 'replica' ? d.replica : d.reference}`;
  return `replica ${d.replica} of ${d.stream} ${what} seq ${describeRanges(d.sequences)} (against ${d.reference}${seals})`;
}

function view(copy: ReplicaCopy, leader: boolean): ReplicaView {
  return {
    server: copy.server,
    stream: copy.stream,
    leader,
    messages: copy.messages.length,
    firstSeq: copy.messages[0]?.seq ?? 0,
    lastSeq: copy.messages.at(-1)?.seq ?? 0,
  };
}

/** The copy to compare against: the leader's, else the one whose root most copies share (ties: first by server name). */
function pickReference(copies: readonly ReplicaCopy[], roots: Map<string, string>, leader: string | undefined) {
  const led = copies.find((c) => c.server === leader);
  if (led) return led;
  const votes = new Map<string, number>();
  for (const c of copies) votes.set(roots.get(c.server)!, (votes.get(roots.get(c.server)!) ?? 0) + 1);
  return [...copies].sort(
    (a, b) => votes.get(roots.get(b.server)!)! - votes.get(roots.get(a.server)!)! || a.server.localeCompare(b.server),
  )[0]!;
}

/** Root of a seal's range over a copy's events (their CIDs in stream order), as the sealer computed it. */
function sealedRoot(messages: readonly ReplicaMessage[], seal: SealClaim): Uint8Array {
  return merkleRoot(
    messages.filter((m) => m.seq >= seal.fromSeq && m.seq <= seal.toSeq).map((m) => cidBytesOf(m.data)),
  );
}

function sealVerdict(
  seals: readonly SealClaim[],
  stream: string,
  sequences: readonly SeqRange[],
  reference: ReplicaCopy,
  replica: ReplicaCopy,
): NonNullable<ReplicaDivergence['agreesWithSeals']> {
  const covering = seals.filter(
    (s) => domainStream(s.domain) === stream && sequences.some((r) => r.from <= s.toSeq && r.to >= s.fromSeq),
  );
  if (covering.length === 0) return 'unsealed';
  const agrees = (copy: ReplicaCopy) => covering.every((s) => sameBytes(sealedRoot(copy.messages, s), s.merkleRoot));
  // Both agreeing can only be a difference the seals do not cover (a header): the reference stands.
  if (agrees(reference)) return 'reference';
  if (agrees(replica)) return 'replica';
  return 'neither';
}

/** Compares every stream's copies; copies of a stream held by one server only have nothing to differ from. */
export function compareReplicas(copies: readonly ReplicaCopy[], options: CompareOptions = {}): ReplicaComparison {
  const byStream = new Map<string, ReplicaCopy[]>();
  for (const c of copies) byStream.set(c.stream, [...(byStream.get(c.stream) ?? []), c]);
  const result: ReplicaComparison = { streams: [], divergences: [], unreadable: [...(options.unreadable ?? [])] };
  for (const [stream, list] of [...byStream.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = [...list].sort((a, b) => a.server.localeCompare(b.server));
    const leader = options.leaders?.get(stream);
    result.streams.push({ stream, replicas: sorted.map((c) => view(c, c.server === leader)) });
    if (sorted.length < 2) continue;
    const seqs = heldSequences(sorted);
    const index = new Map(seqs.map((seq, i) => [seq, i]));
    const dense = new Map(sorted.map((c) => [c.server, alignedDigests(c.messages, index)]));
    const roots = new Map(sorted.map((c) => [c.server, Buffer.from(merkleRoot(dense.get(c.server)!)).toString('hex')]));
    const reference = pickReference(sorted, roots, leader);
    for (const replica of sorted) {
      if (replica === reference || roots.get(replica.server) === roots.get(reference.server)) continue;
      const ref = dense.get(reference.server)!;
      const rep = dense.get(replica.server)!;
      const kinds: Record<ReplicaDivergence['kind'], number[]> = { missing: [], extra: [], different: [] };
      for (const i of bisectDifferences(ref, rep, 0)) {
        const inRef = ref[i]!.length > 0;
        const inRep = rep[i]!.length > 0;
        kinds[inRef && inRep ? 'different' : inRef ? 'missing' : 'extra'].push(seqs[i]!);
      }
      for (const kind of ['missing', 'extra', 'different'] as const) {
        if (kinds[kind].length === 0) continue;
        const sequences = toRanges(kinds[kind]);
        result.divergences.push({
          stream,
          replica: replica.server,
          reference: reference.server,
          kind,
          sequences,
          agreesWithSeals: sealVerdict(options.seals ?? [], stream, sequences, reference, replica),
        });
      }
    }
  }
  return result;
}

/** The comparison for a terminal: each stream's copies (the leader starred), then each divergence and what was unreadable. */
export function renderReplicaComparison(comparison: ReplicaComparison): string {
  const lines: string[] = [];
  const servers = new Set(comparison.streams.flatMap((s) => s.replicas.map((r) => r.server)));
  lines.push(
    `replicas: ${comparison.streams.length} stream(s) on ${servers.size} server(s), each copy read from its own server's block files`,
  );
  for (const { stream, replicas } of comparison.streams) {
    const copies = replicas.map(
      (r) =>
        `${r.server}${r.leader ? '*' : ''} ${r.messages} msg${r.messages === 1 ? '' : 's'} ${r.firstSeq}..${r.lastSeq}`,
    );
    lines.push(`  ${stream}: ${copies.join(' | ')}`);
  }
  if (comparison.divergences.length === 0 && comparison.streams.length > 0) lines.push('  every replica agrees');
  for (const d of comparison.divergences) lines.push(`  DIVERGENCE ${describeDivergence(d)}`);
  for (const u of comparison.unreadable) lines.push(`  unreadable: ${u.server} ${u.stream}: ${u.reason}`);
  return lines.join('\n');
}
