// HighwayHash-64, as nats-server's file store checksums each stored message with it (the Go
// package github.com/minio/highwayhash, generic code path). Tests that alter a stored message in
// place on disk recompute the record's checksum with it, so the server serves the altered bytes
// instead of refusing the record as corrupt. Slow (BigInt) and fine for a few records.

const MASK = (1n << 64n) - 1n;
const INIT0 = [0xdbe6d5d5fe4cce2fn, 0xa4093822299f31d0n, 0x13198a2e03707344n, 0x243f6a8885a308d3n];
const INIT1 = [0x3bd39e10cb0ef593n, 0xc0acf169b5f18a8cn, 0xbe5466cf34e90c6cn, 0x452821e638d01377n];
const V0 = 0;
const V1 = 4;
const MUL0 = 8;
const MUL1 = 12;

const rot32 = (x: bigint) => ((x >> 32n) | (x << 32n)) & MASK;
const lo32 = (x: bigint) => x & 0xffffffffn;
const byteAt = (x: bigint, i: number) => x & (0xffn << BigInt(8 * i));

/** The byte shuffle of the reference code, added into d0 and d1. */
function zipperMerge(s: BigUint64Array, a: number, b: number, d0: number, d1: number): void {
  const v0 = s[a]!;
  const v1 = s[b]!;
  let res = byteAt(v0, 2);
  let res2 = byteAt(v0, 7) + byteAt(v1, 2);
  res += byteAt(v1, 7) >> 8n;
  res2 += byteAt(v0, 6) >> 8n;
  res += (byteAt(v0, 5) + byteAt(v1, 6)) >> 16n;
  res2 += byteAt(v1, 5) >> 16n;
  res += (byteAt(v0, 3) + byteAt(v1, 4)) >> 24n;
  res2 += (byteAt(v1, 3) + byteAt(v0, 4)) >> 24n;
  res += byteAt(v0, 1) << 32n;
  res2 += (v1 & 0xffn) << 48n;
  res += v0 << 56n;
  res2 += byteAt(v1, 1) << 24n;
  s[d0] = s[d0]! + res; // a BigUint64Array stores modulo 2^64, as Go's uint64 wraps
  s[d1] = s[d1]! + res2;
}

function update(s: BigUint64Array, block: Uint8Array): void {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  for (let off = 0; off + 32 <= block.length; off += 32) {
    for (let i = 0; i < 4; i++) {
      s[V1 + i] = s[V1 + i]! + view.getBigUint64(off + 8 * i, true) + s[MUL0 + i]!;
      s[MUL0 + i] = s[MUL0 + i]! ^ (lo32(s[V1 + i]!) * (s[V0 + i]! >> 32n));
      s[V0 + i] = s[V0 + i]! + s[MUL1 + i]!;
      s[MUL1 + i] = s[MUL1 + i]! ^ (lo32(s[V0 + i]!) * (s[V1 + i]! >> 32n));
    }
    zipperMerge(s, V1 + 0, V1 + 1, V0 + 0, V0 + 1);
    zipperMerge(s, V1 + 2, V1 + 3, V0 + 2, V0 + 3);
    zipperMerge(s, V0 + 0, V0 + 1, V1 + 0, V1 + 1);
    zipperMerge(s, V0 + 2, V0 + 3, V1 + 2, V1 + 3);
  }
}

/** The last, partial block (1..31 bytes). */
function hashRemainder(s: BigUint64Array, rest: Uint8Array): void {
  const offset = rest.length;
  const mod32 = (BigInt(offset) << 32n) + BigInt(offset);
  for (let i = 0; i < 4; i++) s[i] = s[i]! + mod32;
  const rotl = (x: number) => ((x << offset) | (x >>> (32 - offset))) >>> 0;
  for (let i = 4; i < 8; i++) {
    const t0 = rotl(Number(lo32(s[i]!)));
    const t1 = rotl(Number(s[i]! >> 32n));
    s[i] = (BigInt(t1) << 32n) | BigInt(t0);
  }
  const block = new Uint8Array(32);
  const mod4 = offset & 3;
  const remain = offset - mod4;
  block.set(rest.subarray(0, remain), 0);
  if (offset >= 16) {
    block.set(rest.subarray(offset - 4, offset), 28);
  } else if (mod4 !== 0) {
    const last = rest[remain]! + (rest[remain + (mod4 >> 1)]! << 8) + (rest[offset - 1]! << 16);
    new DataView(block.buffer).setUint32(16, last, true);
  }
  update(s, block);
}

/** HighwayHash-64 of `data` under a 32-byte key, as the 8 little-endian bytes Go's `Sum(nil)` returns. */
export function highwayHash64(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (key.length !== 32) throw new Error('highwayhash: the key must be 32 bytes');
  const keyView = new DataView(key.buffer, key.byteOffset, 32);
  const s = new BigUint64Array(16);
  for (let i = 0; i < 4; i++) {
    const k = keyView.getBigUint64(8 * i, true);
    s[MUL0 + i] = INIT0[i]!;
    s[MUL1 + i] = INIT1[i]!;
    s[V0 + i] = INIT0[i]! ^ k;
    s[V1 + i] = INIT1[i]! ^ rot32(k);
  }
  const whole = data.length & ~31;
  update(s, data.subarray(0, whole));
  if (whole < data.length) hashRemainder(s, data.subarray(whole));
  for (let run = 0; run < 4; run++) {
    const perm = new Uint8Array(32);
    const view = new DataView(perm.buffer);
    view.setBigUint64(0, rot32(s[V0 + 2]!), true);
    view.setBigUint64(8, rot32(s[V0 + 3]!), true);
    view.setBigUint64(16, rot32(s[V0 + 0]!), true);
    view.setBigUint64(24, rot32(s[V0 + 1]!), true);
    update(s, perm);
  }
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, (s[V0]! + s[V1]! + s[MUL0]! + s[MUL1]!) & MASK, true);
  return out;
}
