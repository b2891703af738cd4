// The HighwayHash-64 that test/support/filestore-block.ts uses to re-checksum rewritten records,
// against the reference implementation's published test vectors (key 0..31, input 0..n-1).
import { describe, expect, it } from 'vitest';
import { highwayHash64 } from '../support/filestore-block.js';

const key = Uint8Array.from({ length: 32 }, (_, i) => i);
const hash = (length: number) => Buffer.from(highwayHash64(key, Uint8Array.from({ length }, (_, i) => i))).readBigUInt64LE();

describe('highwayHash64', () => {
  it('gives the reference vectors', () => {
    expect([0, 1, 2, 3].map(hash)).toEqual([0x907a56de22c26e53n, 0x7eab43aac7cddd78n, 0xb8d0569ab0b53d62n, 0x5c6befab8a463d80n]);
  });
});
