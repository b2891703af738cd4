// The heads of dag-cbor items, for the encoders that write bytes directly for one fixed shape
// (envelopes, audit records and batches, encrypted field values): a major type and its argument
// in the shortest form, as dag-cbor requires.

export const MAJOR_UINT = 0;
export const MAJOR_BYTES = 2;
export const MAJOR_TEXT = 3;
export const MAJOR_ARRAY = 4;
export const MAJOR_MAP = 5;
export const MAJOR_TAG = 6;

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

/** A text string's dag-cbor bytes: its head, then its UTF-8. */
export function textItem(text: string): Buffer {
  const length = Buffer.byteLength(text, 'utf8');
  const out = Buffer.allocUnsafe(headSize(length) + length);
  out.write(text, writeHead(out, 0, MAJOR_TEXT, length), 'utf8');
  return out;
}
