// Reads event envelopes straight from their dag-cbor bytes, fast, for the two readers of whole
// streams: replays decode every event (the generic path — dag-cbor decode, schema check, CID
// recompute — costs ≈ 14 µs an event here, this ≈ 2 µs), and verification reads only the chain
// fields (seq, prev, domain, aggregate id) and skips the payload without building it.
//
// Both read the envelope as the event store writes it (its fourteen keys in dag-cbor's canonical
// order) and check every field of its own as `EnvelopeSchema` does. Neither recomputes the CID:
// the caller that needs it (verify) hashes the bytes itself. Anything unexpected is refused here
// and left to `decodeEnvelope`, which decodes it or says exactly what is wrong (CIM-INVALID-EVENT).
import { Digest } from 'multiformats/hashes/digest';
import { CID } from './cid.js';
import { ENVELOPE_KEY_BYTES, ENVELOPE_MAP_HEAD } from './envelope-layout.js';
import {
  decodeEnvelope,
  domainName,
  ENVELOPE_VERSION,
  rfc3339Utc,
  subjectToken,
  type EventEnvelope,
  type Payload,
} from './envelope.js';

const KEY_BYTES = ENVELOPE_KEY_BYTES;
const MAP_OF_14 = ENVELOPE_MAP_HEAD;
const DAG_CBOR = 0x71;
const SHA2_256 = 0x12;

/** Thrown inside the fast path for anything it leaves to the generic decoder. */
const UNEXPECTED = Symbol('unexpected');

/** A CID from a link's bytes (a view, kept by the CID). */
function cidOfLink(cid: Uint8Array): CID {
  // The event store's own links (CIDv1, dag-cbor, sha2-256) are built directly: parsing their
  // four varints costs more than the rest of the envelope.
  if (cid.length === 36 && cid[0] === 1 && cid[1] === DAG_CBOR && cid[2] === SHA2_256 && cid[3] === 32) {
    return new CID(1, DAG_CBOR, new Digest(SHA2_256, 32, cid.subarray(4), cid.subarray(2)), cid);
  }
  return CID.decode(cid);
}

class Reader {
  pos = 0;
  private readonly bytes: Buffer;

  constructor(bytes: Uint8Array) {
    // The client's message data is a Buffer already; wrapping costs as much as decoding a field.
    this.bytes = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** A plain Uint8Array over some of the bytes: a view, not a copy (the client never reuses a message's bytes). */
  private view(start: number, end: number): Uint8Array {
    return new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + start, end - start);
  }

  get done(): boolean {
    return this.pos === this.bytes.length;
  }

  byte(): number {
    if (this.pos >= this.bytes.length) throw UNEXPECTED;
    return this.bytes[this.pos++]!;
  }

  /** The argument of a head whose first byte was `first`: an integer, or a length. */
  argument(first: number): number {
    const info = first & 0x1f;
    if (info < 24) return info;
    const b = this.bytes;
    const p = this.pos;
    switch (info) {
      case 24:
        if (p + 1 > b.length) throw UNEXPECTED;
        this.pos = p + 1;
        return b[p]!;
      case 25:
        if (p + 2 > b.length) throw UNEXPECTED;
        this.pos = p + 2;
        return b.readUInt16BE(p);
      case 26:
        if (p + 4 > b.length) throw UNEXPECTED;
        this.pos = p + 4;
        return b.readUInt32BE(p);
      case 27: {
        if (p + 8 > b.length) throw UNEXPECTED;
        const n = b.readUInt32BE(p) * 2 ** 32 + b.readUInt32BE(p + 4);
        if (n > Number.MAX_SAFE_INTEGER) throw UNEXPECTED; // dag-cbor would give a bigint
        this.pos = p + 8;
        return n;
      }
      default:
        throw UNEXPECTED; // indefinite lengths: not dag-cbor
    }
  }

  uint(): number {
    const first = this.byte();
    if (first >> 5 !== 0) throw UNEXPECTED;
    return this.argument(first);
  }

  text(): string {
    const first = this.byte();
    if (first >> 5 !== 3) throw UNEXPECTED;
    return this.textOf(this.argument(first));
  }

  private textOf(length: number): string {
    const start = this.pos;
    const end = start + length;
    if (end > this.bytes.length) throw UNEXPECTED;
    this.pos = end;
    // The UTF-8 decoder has a fixed cost (~60 ns) that only very short ASCII strings beat.
    if (length <= 8) {
      let s = '';
      for (let i = start; i < end; i++) {
        const c = this.bytes[i]!;
        if (c > 0x7f) return this.bytes.toString('utf8', start, end);
        s += String.fromCharCode(c);
      }
      return s;
    }
    return this.bytes.toString('utf8', start, end);
  }

  expectKey(key: Uint8Array): void {
    const b = this.bytes;
    const p = this.pos;
    if (p + key.length > b.length) throw UNEXPECTED;
    for (let i = 0; i < key.length; i++) if (b[p + i] !== key[i]) throw UNEXPECTED;
    this.pos = p + key.length;
  }

  /** A CID link after its tag: bytes holding a 0x00 prefix and the binary CID. */
  link(): CID {
    return cidOfLink(this.linkBytes());
  }

  /** A keyed text field the chain does not need: built when `build`, else only checked and skipped. */
  field(key: Uint8Array, nonEmpty: boolean, build: boolean): string | undefined {
    this.expectKey(key);
    if (!build) {
      this.skipText(nonEmpty);
      return undefined;
    }
    const text = this.text();
    if (nonEmpty && text.length === 0) throw UNEXPECTED;
    return text;
  }

  /** Skips a text item, which must be non-empty when asked; nothing is built. */
  skipText(nonEmpty: boolean): void {
    const first = this.byte();
    if (first >> 5 !== 3) throw UNEXPECTED;
    const length = this.argument(first);
    if ((nonEmpty && length === 0) || this.pos + length > this.bytes.length) throw UNEXPECTED;
    this.pos += length;
  }

  /** The bytes of a CID link after its tag (a view): for comparing links without building CIDs. */
  linkBytes(): Uint8Array {
    const first = this.byte();
    if (first >> 5 !== 2) throw UNEXPECTED;
    const length = this.argument(first);
    const start = this.pos;
    if (length < 2 || start + length > this.bytes.length || this.bytes[start] !== 0) throw UNEXPECTED;
    this.pos = start + length;
    return this.view(start + 1, start + length);
  }

  /** Skips any dag-cbor data item after its first byte, building nothing. */
  skip(first: number): void {
    const major = first >> 5;
    if (major === 7) {
      if (first === 0xfb) {
        if (this.pos + 8 > this.bytes.length) throw UNEXPECTED;
        this.pos += 8;
      } else if (first < 0xf4 || first > 0xf6) throw UNEXPECTED;
      return;
    }
    const n = this.argument(first);
    if (major === 2 || major === 3) {
      if (this.pos + n > this.bytes.length) throw UNEXPECTED;
      this.pos += n;
    } else if (major === 4 || major === 5) {
      const items = major === 5 ? n * 2 : n;
      for (let i = 0; i < items; i++) this.skip(this.byte());
    } else if (major === 6) {
      if (n !== 42) throw UNEXPECTED;
      this.linkBytes();
    }
  }

  /** Any dag-cbor data item (the payload's contents). */
  item(): unknown {
    const first = this.byte();
    switch (first >> 5) {
      case 0:
        return this.argument(first);
      case 1:
        return -1 - this.argument(first);
      case 2: {
        const length = this.argument(first);
        if (this.pos + length > this.bytes.length) throw UNEXPECTED;
        this.pos += length;
        return this.view(this.pos - length, this.pos);
      }
      case 3:
        return this.textOf(this.argument(first));
      case 4: {
        const length = this.argument(first);
        const out = new Array<unknown>(length);
        for (let i = 0; i < length; i++) out[i] = this.item();
        return out;
      }
      case 5:
        return this.map(this.argument(first));
      case 6:
        if (this.argument(first) !== 42) throw UNEXPECTED;
        return this.link();
      default:
        switch (first) {
          case 0xf4:
            return false;
          case 0xf5:
            return true;
          case 0xf6:
            return null;
          case 0xfb: {
            if (this.pos + 8 > this.bytes.length) throw UNEXPECTED;
            const value = this.bytes.readDoubleBE(this.pos);
            this.pos += 8;
            return value;
          }
          default:
            throw UNEXPECTED; // undefined, half and single floats: not dag-cbor
        }
    }
  }

  map(size: number): Payload {
    const out: Payload = {};
    for (let i = 0; i < size; i++) {
      const key = this.text();
      // Assigning "__proto__" would set the prototype; the generic decoder handles it.
      if (key === '__proto__' || Object.hasOwn(out, key)) throw UNEXPECTED;
      out[key] = this.item();
    }
    return out;
  }
}

export interface ChainFields {
  domain: string;
  aggregateId: string;
  seq: number;
  /** The bytes of the previous event's CID (a view into the event's bytes); null for seq 1. */
  prev: Uint8Array | null;
}

/** The fields a walk reads; the others are present only when it builds the whole envelope. */
interface WalkedFields extends ChainFields {
  at: string;
  id?: string;
  type?: string;
  actor?: string;
  payload?: Payload;
  aggregate?: string;
  causationId?: string;
  typeVersion: number;
  correlationId?: string;
}

/**
 * Walks the envelope's canonical layout once, checking every field as `EnvelopeSchema` does.
 * With `full` it builds every field; without, only the chain fields, skipping the other texts
 * and the payload unbuilt. Throws UNEXPECTED (or returns undefined) for anything else.
 */
function walk(bytes: Uint8Array, full: boolean): WalkedFields | undefined {
  const r = new Reader(bytes);
  if (r.byte() !== MAP_OF_14) return undefined;
  const k = KEY_BYTES;
  r.expectKey(k[0]!);
  const v = r.uint();
  r.expectKey(k[1]!);
  const at = r.text();
  const id = r.field(k[2]!, true, full);
  r.expectKey(k[3]!);
  const seq = r.uint();
  r.expectKey(k[4]!);
  let prev: Uint8Array | null = null;
  const prevHead = r.byte();
  if (prevHead === 0xd8) {
    if (r.byte() !== 42) return undefined;
    prev = r.linkBytes();
  } else if (prevHead !== 0xf6) return undefined;
  const type = r.field(k[5]!, true, full);
  const actor = r.field(k[6]!, false, full);
  r.expectKey(k[7]!);
  const domain = r.text();
  r.expectKey(k[8]!);
  const payloadHead = r.byte();
  if (payloadHead >> 5 !== 5) return undefined;
  let payload: Payload | undefined;
  if (full) payload = r.map(r.argument(payloadHead));
  else r.skip(payloadHead);
  const aggregate = r.field(k[9]!, true, full);
  r.expectKey(k[10]!);
  const aggregateId = r.text();
  const causationId = r.field(k[11]!, false, full);
  r.expectKey(k[12]!);
  const typeVersion = r.uint();
  const correlationId = r.field(k[13]!, false, full);
  if (
    !r.done ||
    v !== ENVELOPE_VERSION ||
    seq < 1 ||
    typeVersion < 1 ||
    (seq === 1) !== (prev === null) ||
    !rfc3339Utc.test(at) ||
    !domainName.test(domain) ||
    !subjectToken.test(aggregateId)
  ) {
    return undefined;
  }
  return {
    domain,
    aggregateId,
    seq,
    prev,
    at,
    id,
    type,
    actor,
    payload,
    aggregate,
    causationId,
    typeVersion,
    correlationId,
  };
}

function fastDecode(bytes: Uint8Array): EventEnvelope | undefined {
  const f = walk(bytes, true);
  if (!f) return undefined;
  const prev = f.prev === null ? null : cidOfLink(f.prev);
  return {
    v: ENVELOPE_VERSION,
    id: f.id!,
    domain: f.domain,
    aggregate: f.aggregate!,
    aggregateId: f.aggregateId,
    seq: f.seq,
    type: f.type!,
    typeVersion: f.typeVersion,
    at: f.at,
    correlationId: f.correlationId!,
    causationId: f.causationId!,
    actor: f.actor!,
    payload: f.payload!,
    prev,
  };
}

/**
 * The chain fields of an envelope as the store writes it, or undefined for anything else (the
 * caller decodes that in full to say what is wrong). The payload is skipped, not validated:
 * damage there shows as a CID that no longer links, which is what verification checks.
 */
export function scanEnvelope(bytes: Uint8Array): ChainFields | undefined {
  try {
    const f = walk(bytes, false);
    return f && { domain: f.domain, aggregateId: f.aggregateId, seq: f.seq, prev: f.prev };
  } catch {
    return undefined; // UNEXPECTED: not as the store writes envelopes
  }
}

/**
 * The envelope in `bytes`, its shape checked as `EnvelopeSchema` checks it. Throws
 * CIM-INVALID-EVENT saying what is wrong with bytes that are not an event envelope.
 */
export function decodeEvent(bytes: Uint8Array): EventEnvelope {
  let envelope: EventEnvelope | undefined;
  try {
    envelope = fastDecode(bytes);
  } catch {
    // UNEXPECTED, or a CID the multiformats parser refuses: the generic decoder names the problem.
  }
  return envelope ?? decodeEnvelope(bytes).envelope;
}
