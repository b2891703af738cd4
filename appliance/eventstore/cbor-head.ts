// The items of dag-cbor that the encoders writing bytes directly for one fixed shape (envelopes,
// audit records and batches, encrypted field values) share: heads — a major type and its argument
// in the shortest form, as dag-cbor requires — text strings and links.

export const MAJOR_UINT = 0;
export const MAJOR_BYTES = 2;
export const MAJOR_TEXT = 3;
export const MAJOR_ARRAY = 4;
export const MAJOR_MAP = 5;
export const MAJOR_TAG = 6;
export const NULL = 0xf6;
/** The tag dag-cbor puts on a link: a byte string of 0x00 (the identity multibase) and the binary CID. */
const CID_TAG = 42;

/** Bytes a head with argument `n` takes. */
export function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

/** Writes a head in its shortest form at `pos`; returns the position after it. */
export function writeHead(buf: Buffer, pos: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    buf[pos] = m | n;
    return pos + 1;
  }
  if (n < 0x100) {
    buf[pos] = m | 24;
    buf[pos + 1] = n;
    return pos + 2;
  }
  if (n < 0x10000) {
    buf[pos] = m | 25;
    buf.writeUInt16BE(n, pos + 1);
    return pos + 3;
  }
  if (n < 0x100000000) {
    buf[pos] = m | 26;
    buf.writeUInt32BE(n, pos + 1);
    return pos + 5;
  }
  buf[pos] = m | 27;
  buf.writeBigUInt64BE(BigInt(n), pos + 1);
  return pos + 9;
}

/** Writes a text string whose UTF-8 takes `length` bytes at `pos`; returns the position after it. */
export function writeText(buf: Buffer, pos: number, text: string, length: number): number {
  pos = writeHead(buf, pos, MAJOR_TEXT, length);
  return pos + buf.write(text, pos, 'utf8');
}

/** Bytes a link to the binary CID `cid` takes, or null. */
export function linkSize(cid: Uint8Array | null): number {
  return cid === null ? 1 : headSize(CID_TAG) + headSize(cid.length + 1) + 1 + cid.length;
}

/** Writes a link to the binary CID `cid` (or null) at `pos`; returns the position after it. */
export function writeLink(buf: Buffer, pos: number, cid: Uint8Array | null): number {
  if (cid === null) {
    buf[pos] = NULL;
    return pos + 1;
  }
  pos = writeHead(buf, pos, MAJOR_TAG, CID_TAG);
  pos = writeHead(buf, pos, MAJOR_BYTES, cid.length + 1);
  buf[pos] = 0;
  buf.set(cid, pos + 1);
  return pos + 1 + cid.length;
}

/** A text string's dag-cbor bytes: its head, then its UTF-8. */
export function textItem(text: string): Buffer {
  const length = Buffer.byteLength(text, 'utf8');
  const out = Buffer.allocUnsafe(headSize(length) + length);
  writeText(out, 0, text, length);
  return out;
}
