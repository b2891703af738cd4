// The per-event half of verification, free of NATS so it can be measured and tested alone: each
// event's CID recomputes from its bytes, it sits on its own aggregate's subject, and it extends
// its aggregate's chain (seq + 1, prev = the previous event's CID). Memory: one entry per aggregate.
import { CID } from 'multiformats/cid';
import { DAG_CBOR_CODE, sha256, SHA2_256_CODE } from '../eventstore/cid.js';
import { decodeEnvelope } from '../eventstore/envelope.js';
import { scanEnvelope } from '../eventstore/envelope-read.js';
import type { FindingList } from './findings.js';
import type { Subjects } from '../eventstore/names.js';

export interface StoredMessage {
  streamSeq: number;
  subject: string;
  data: Uint8Array;
  /** The CID the message was published as (header Cim-Cid), if any. */
  claimedCid?: string | undefined;
}

const CID_PREFIX = new Uint8Array([0x01, DAG_CBOR_CODE, SHA2_256_CODE, 32]);

/** The binary CIDv1(dag-cbor, sha2-256) of a block, without building a CID object. */
export function cidBytesOf(block: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(36);
  bytes.set(CID_PREFIX, 0);
  bytes.set(sha256(block), 4);
  return bytes;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false; // digests differ at the end as likely as anywhere
  return true;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * Whether `text` is the multibase base32 form of the CID `bytes` (`b` and RFC 4648 lower case,
 * unpadded), as `base32.encode(bytes) === text` but without building the string: a CIDv1's text
 * form is that, and building it was a fifth of a check's allocations.
 */
export function isBase32Of(text: string, bytes: Uint8Array): boolean {
  if (text.length !== 1 + Math.ceil((bytes.length * 8) / 5) || text.charCodeAt(0) !== 0x62) return false;
  let buffer = 0;
  let bits = 0;
  let at = 1;
  for (let i = 0; i < bytes.length; i++) {
    buffer = ((buffer << 8) | bytes[i]!) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      if (text.charCodeAt(at++) !== BASE32.charCodeAt((buffer >> bits) & 31)) return false;
    }
  }
  return bits === 0 || text.charCodeAt(at) === BASE32.charCodeAt((buffer << (5 - bits)) & 31);
}

const cidText = (bytes: Uint8Array | null) => (bytes === null ? 'nothing' : CID.decode(bytes).toString());

export class ChainChecker {
  private readonly chains = new Map<string, { seq: number; cid: Uint8Array }>();
  private readonly base: { domain: string; stream: string };
  /** `<prefix>.<domain>.events.`: an event's subject is this and its aggregate id. */
  private readonly subjectStem: string;

  /**
   * @param lateStartAllowed an aggregate's first event in the stream may have seq > 1 (stream limits
   *   removed the head of the stream).
   * @param removed the CIDs (binary, as hex) of events retention removed under a manifest: an
   *   aggregate's first remaining event may follow one of them (its `prev` is the removed event).
   */
  constructor(
    private readonly domain: string,
    stream: string,
    private readonly subjects: Subjects,
    private readonly findings: FindingList,
    private readonly lateStartAllowed = false,
    private readonly removed: ReadonlySet<string> = new Set(),
    /**
     * When set, an aggregate's first event is not judged but handed here (a chunk's worker cannot
     * know what came before the chunk; the main thread judges it with `extend`).
     */
    private readonly deferFirst?: (
      streamSeq: number,
      aggregateId: string,
      seq: number,
      prev: Uint8Array | null,
      cid: Uint8Array,
    ) => void,
  ) {
    this.base = { domain, stream };
    this.subjectStem = subjects.event(domain, '');
  }

  get aggregates(): number {
    return this.chains.size;
  }

  /** Checks one stored event and returns its binary CID (the Merkle leaf of seals). */
  check(m: StoredMessage): Uint8Array {
    const cid = cidBytesOf(m.data);
    const fields = scanEnvelope(m.data);
    if (!fields || fields.domain !== this.domain) {
      this.reportInvalid(m, cid, fields?.domain);
      return cid;
    }
    const { aggregateId, seq, prev } = fields;
    const { streamSeq } = m;
    // A CIDv1's text form is the multibase base32 of its bytes: compared without a CID object (5 µs).
    if (m.claimedCid !== undefined && !isBase32Of(m.claimedCid, cid)) {
      this.findings.add({
        ...this.base,
        kind: 'cid-mismatch',
        streamSeq,
        aggregateId,
        expected: m.claimedCid,
        actual: cidText(cid),
        message: `seq ${streamSeq} (${aggregateId}): published as ${m.claimedCid}, its bytes hash to ${cidText(cid)}`,
      });
    }
    const subject = m.subject;
    if (
      subject.length !== this.subjectStem.length + aggregateId.length ||
      !subject.endsWith(aggregateId) ||
      !subject.startsWith(this.subjectStem)
    ) {
      this.findings.add({
        ...this.base,
        kind: 'wrong-subject',
        streamSeq,
        aggregateId,
        expected: this.subjects.event(this.domain, aggregateId),
        actual: m.subject,
        message: `seq ${streamSeq}: an event of ${aggregateId} stored on ${m.subject}`,
      });
    }
    this.extend(streamSeq, aggregateId, seq, prev, cid);
    return cid;
  }

  /**
   * The chain half of `check`: the event at `streamSeq` (its aggregate's `seq`, `prev` and own
   * CID) extends its aggregate's chain. A parallel verification calls it for each aggregate's first
   * event in a chunk, the chunk's worker having checked the rest of the chunk on its own.
   */
  extend(streamSeq: number, aggregateId: string, seq: number, prev: Uint8Array | null, cid: Uint8Array): void {
    const chain = this.chains.get(aggregateId);
    if (chain === undefined && this.deferFirst) {
      this.deferFirst(streamSeq, aggregateId, seq, prev, cid);
      this.chains.set(aggregateId, { seq, cid });
      return;
    }
    if (chain === undefined) {
      const afterRemoved =
        prev !== null && this.removed.size > 0 && this.removed.has(Buffer.from(prev).toString('hex'));
      if (seq !== 1 && !this.lateStartAllowed && !afterRemoved) {
        this.findings.add({
          ...this.base,
          kind: 'chain-broken',
          streamSeq,
          aggregateId,
          expected: 'seq 1',
          actual: `seq ${seq} after ${cidText(prev)}`,
          message: `seq ${streamSeq}: ${aggregateId} starts at seq ${seq}`,
        });
      }
    } else if (seq !== chain.seq + 1 || prev === null || !equalBytes(prev, chain.cid)) {
      const expected = `seq ${chain.seq + 1} after ${cidText(chain.cid)}`;
      const actual = `seq ${seq} after ${cidText(prev)}`;
      this.findings.add({
        ...this.base,
        kind: 'chain-broken',
        streamSeq,
        aggregateId,
        expected,
        actual,
        message: `seq ${streamSeq}: ${aggregateId}'s chain breaks: expected ${expected}, found ${actual} (event ${cidText(cid)})`,
      });
    }
    // A break resynchronises on the event found, so one break is one finding, not a cascade.
    if (chain === undefined) this.chains.set(aggregateId, { seq, cid });
    else {
      chain.seq = seq; // in place: a new entry per event is most of what a check allocates
      chain.cid = cid;
    }
  }

  /** The aggregate's chain now ends at `seq` with `cid` (a chunk checked elsewhere ended there). */
  settle(aggregateId: string, seq: number, cid: Uint8Array): void {
    this.chains.set(aggregateId, { seq, cid });
  }

  /** Each aggregate's last event so far. */
  heads(): IterableIterator<[string, { seq: number; cid: Uint8Array }]> {
    return this.chains.entries();
  }

  private reportInvalid(m: StoredMessage, cid: Uint8Array, domain: string | undefined): void {
    let message: string;
    if (domain !== undefined) {
      message = `seq ${m.streamSeq}: an event of domain ${domain} in the stream of ${this.domain}`;
    } else {
      try {
        decodeEnvelope(m.data);
        message = `seq ${m.streamSeq}: not a canonical envelope`; // valid for the schema, yet not as the store writes it
      } catch (error) {
        message = `seq ${m.streamSeq}: ${(error as Error).message}`;
      }
    }
    this.findings.add({
      ...this.base,
      kind: domain !== undefined ? 'wrong-subject' : 'invalid-event',
      streamSeq: m.streamSeq,
      actual: cidText(cid),
      message,
    });
  }
}
