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
import { decodeEnvelope, domainName, ENVELOPE_VERSION, rfc3339Utc, subjectToken, type EventEnvelope, type Payload } from './envelope.js';

const KEY_BYTES = ENVELOPE_KEY_BYTES;
const MAP_OF_14 = ENVELOPE_MAP_HEAD;
const DAG_CBOR = 0x71;
const SHA2_256 = 0x12;

/** Thrown inside the fast path for anything it leaves to the generic decoder. */
const UNEXPECTED = Symbol('unexpected');

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
    const first = this.byte();
    if (first >> 5 !== 2) throw UNEXPECTED;
    const length = this.argument(first);
    const start = this.pos;
    if (length < 2 || start + length > this.bytes.length || this.bytes[start] !== 0) throw UNEXPECTED;
    this.pos = start + length;
    const cid = this.view(start + 1, start + length);
    // The event store's own links (CIDv1, dag-cbor, sha2-256) are built directly: parsing their
    // four varints costs more than the rest of the envelope.
    if (cid.length === 36 && cid[0] === 1 && cid[1] === DAG_CBOR && cid[2] === SHA2_256 && cid[3] === 32) {
      return new CID(1, DAG_CBOR, new Digest(SHA2_256, 32, cid.subarray(4), cid.subarray(2)), cid);
    }
    return CID.decode(cid);
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

function fastDecode(bytes: Uint8Array): EventEnvelope | undefined {
  const r = new Reader(bytes);
  if (r.byte() !== MAP_OF_14) return undefined;
  const k = KEY_BYTES;
  r.expectKey(k[0]!);
  const v = r.uint();
  r.expectKey(k[1]!);
  const at = r.text();
  r.expectKey(k[2]!);
  const id = r.text();
  r.expectKey(k[3]!);
  const seq = r.uint();
  r.expectKey(k[4]!);
  let prev: CID | null = null;
  const prevHead = r.byte();
  if (prevHead === 0xd8) {
    if (r.byte() !== 42) return undefined;
    prev = r.link();
  } else if (prevHead !== 0xf6) return undefined;
  r.expectKey(k[5]!);
  const type = r.text();
  r.expectKey(k[6]!);
  const actor = r.text();
  r.expectKey(k[7]!);
  const domain = r.text();
  r.expectKey(k[8]!);
  const payloadHead = r.byte();
  if (payloadHead >> 5 !== 5) return undefined;
  const payload = r.map(r.argument(payloadHead));
  r.expectKey(k[9]!);
  const aggregate = r.text();
  r.expectKey(k[10]!);
  const aggregateId = r.text();
  r.expectKey(k[11]!);
  const causationId = r.text();
  r.expectKey(k[12]!);
  const typeVersion = r.uint();
  r.expectKey(k[13]!);
  const correlationId = r.text();
  if (
    !r.done ||
    v !== ENVELOPE_VERSION ||
    seq < 1 ||
    typeVersion < 1 ||
    id.length === 0 ||
    type.length === 0 ||
    aggregate.length === 0 ||
    (seq === 1) !== (prev === null) ||
    !rfc3339Utc.test(at) ||
    !domainName.test(domain) ||
    !subjectToken.test(aggregateId)
  ) {
    return undefined;
  }
  return { v, id, domain, aggregate, aggregateId, seq, type, typeVersion, at, correlationId, causationId, actor, payload, prev };
}

export interface ChainFields {
  domain: string;
  aggregateId: string;
  seq: number;
  /** The bytes of the previous event's CID (a view into the event's bytes); null for seq 1. */
  prev: Uint8Array | null;
}

function scan(bytes: Uint8Array): ChainFields | undefined {
  const r = new Reader(bytes);
  if (r.byte() !== MAP_OF_14) return undefined;
  const k = KEY_BYTES;
  r.expectKey(k[0]!);
  const v = r.uint();
  r.expectKey(k[1]!);
  const at = r.text();
  r.expectKey(k[2]!);
  r.skipText(true); // id
  r.expectKey(k[3]!);
  const seq = r.uint();
  r.expectKey(k[4]!);
  let prev: Uint8Array | null = null;
  const prevHead = r.byte();
  if (prevHead === 0xd8) {
    if (r.byte() !== 42) return undefined;
    prev = r.linkBytes();
  } else if (prevHead !== 0xf6) return undefined;
  r.expectKey(k[5]!);
  r.skipText(true); // type
  r.expectKey(k[6]!);
  r.skipText(false); // actor
  r.expectKey(k[7]!);
  const domain = r.text();
  r.expectKey(k[8]!);
  const payloadHead = r.byte();
  if (payloadHead >> 5 !== 5) return undefined;
  r.skip(payloadHead);
  r.expectKey(k[9]!);
  r.skipText(true); // aggregate
  r.expectKey(k[10]!);
  const aggregateId = r.text();
  r.expectKey(k[11]!);
  r.skipText(false); // causationId
  r.expectKey(k[12]!);
  const typeVersion = r.uint();
  r.expectKey(k[13]!);
  r.skipText(false); // correlationId
  if (!r.done || v !== ENVELOPE_VERSION || seq < 1 || typeVersion < 1 || (seq === 1) !== (prev === null) || !rfc3339Utc.test(at) || !domainName.test(domain) || !subjectToken.test(aggregateId)) {
    return undefined;
  }
  return { domain, aggregateId, seq, prev };
}

/**
 * The chain fields of an envelope as the store writes it, or undefined for anything else (the
 * caller decodes that in full to say what is wrong). The payload is skipped, not validated:
 * damage there shows as a CID that no longer links, which is what verification checks.
 */
export function scanEnvelope(bytes: Uint8Array): ChainFields | undefined {
  try {
    return scan(bytes);
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
