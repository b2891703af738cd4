import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MerkleAccumulator,
  consistencyProof,
  inclusionProof,
  leafHash,
  merkleRoot,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from '../../appliance/integrity/merkle.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const unhex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const hexes = (list: readonly Uint8Array[]): string[] => list.map(hex);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

// The certificate-transparency reference data, as kept in github.com/transparency-dev/merkle
// (testonly/constants.go, testonly/reference_test.go, cmd/proofgen/main.go, rfc6962/rfc6962_test.go).
const CT_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(unhex);

/** Roots of the trees of the first 0..8 CT leaves (testonly.RootHashes). */
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

/** Leaf hashes of the CT leaves (testonly.NodeHashes level 0). */
const CT_LEAF_HASHES = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
  '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
  '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
  'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
  '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
  'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
  '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
];

/** testonly/reference_test.go TestRefInclusionProof (0-based leaf index). */
const CT_INCLUSION: readonly { index: number; size: number; proof: string[] }[] = [
  { index: 0, size: 1, proof: [] },
  { index: 0, size: 2, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7'] },
  { index: 1, size: 2, proof: ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'] },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

/** testonly/reference_test.go TestRefConsistencyProof, plus 6→7 from cmd/proofgen/main.go. */
const CT_CONSISTENCY: readonly { oldSize: number; newSize: number; proof: string[] }[] = [
  { oldSize: 1, newSize: 1, proof: [] },
  {
    oldSize: 1,
    newSize: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    oldSize: 2,
    newSize: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    oldSize: 6,
    newSize: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    oldSize: 6,
    newSize: 7,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

/** mulberry32: a tiny seeded PRNG so every run explores the same trees. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Random {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#next() * (hi - lo + 1));
  }
  bytes(length: number): Uint8Array {
    return Uint8Array.from({ length }, () => this.int(0, 255));
  }
  leaves(count: number): Uint8Array[] {
    return Array.from({ length: count }, () => this.bytes(this.int(0, 40)));
  }
}

function flipBit(proof: readonly Uint8Array[], element: number, bit: number): Uint8Array[] {
  return proof.map((hash, i) => {
    if (i !== element) return hash;
    const copy = hash.slice();
    copy[bit >> 3]! ^= 1 << (bit & 7);
    return copy;
  });
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => hex(a) === hex(b);

/** RFC 6962's k: the largest power of two below n, for any safe integer n ≥ 2. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Independent oracle: evaluates PATH(m, D[n]) of RFC 6962 §2.1.1 recursively against the given
 * hashes, i.e. what a proof for (index, size) must recompute. A wrong size or index is only
 * detectable when it changes the shape of that recursion, so the bit-twiddling RFC 9162
 * verifiers are checked against this rather than against a blanket "false".
 */
function oracleInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (index >= size) return false;
  let end = proof.length;
  const walk = (m: number, n: number): Uint8Array | undefined => {
    if (n === 1) return leafHash(leaf);
    if (end === 0) return undefined;
    const sibling = proof[--end]!;
    const k = split(n);
    if (m < k) {
      const left = walk(m, k);
      return left && nodeHash(left, sibling);
    }
    const right = walk(m - k, n - k);
    return right && nodeHash(sibling, right);
  };
  const computed = walk(index, size);
  return computed !== undefined && end === 0 && sameBytes(computed, root);
}

/** Independent oracle for PROOF(m, D[n]) of RFC 6962 §2.1.2, as for oracleInclusion. */
function oracleConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (oldSize < 1 || oldSize > newSize) return false;
  if (oldSize === newSize) return proof.length === 0 && sameBytes(oldRoot, newRoot);
  let end = proof.length;
  // Returns [old-tree part, new-tree part] of the subtree in hand.
  const walk = (m: number, n: number, oldRootKnown: boolean): [Uint8Array, Uint8Array] | undefined => {
    if (m === n && oldRootKnown) return [oldRoot, oldRoot];
    if (end === 0) return undefined;
    const hash = proof[--end]!;
    if (m === n) return [hash, hash];
    const k = split(n);
    if (m <= k) {
      const sub = walk(m, k, oldRootKnown);
      return sub && [sub[0], nodeHash(sub[1], hash)];
    }
    const sub = walk(m - k, n - k, false);
    return sub && [nodeHash(hash, sub[0]), nodeHash(hash, sub[1])];
  };
  const computed = walk(oldSize, newSize, true);
  return computed !== undefined && end === 0 && sameBytes(computed[0], oldRoot) && sameBytes(computed[1], newRoot);
}

/** Every way of damaging a valid inclusion proof, with whether it must be rejected outright. */
function checkInclusionTampering(
  random: Random,
  leaves: readonly Uint8Array[],
  index: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  const n = leaves.length;
  const leaf = leaves[index]!;
  const reject = (p: readonly Uint8Array[], i = index, size = n, r = root, data = leaf): void => {
    expect(verifyInclusion(data, i, size, p, r), `index ${i} size ${size} of ${index}/${n}`).toBe(false);
  };
  for (let element = 0; element < proof.length; element++) {
    reject(flipBit(proof, element, random.int(0, 255)));
  }
  if (proof.length > 0) {
    reject(proof.slice(1));
    reject(proof.slice(0, -1));
  }
  reject([...proof, random.bytes(32)]);
  reject([root, ...proof]);
  reject([...proof, root]);
  for (const wrong of [index - 1, index + 1, index ^ 1, random.int(0, n - 1)]) {
    if (wrong !== index && wrong >= 0) reject(proof, wrong);
  }
  for (const size of [n - 1, n + 1, n * 2, n >> 1, random.int(1, 2 * n)]) {
    if (size === n) continue;
    const verdict = verifyInclusion(leaf, index, size, proof, root);
    expect(verdict, `size ${size} for ${index}/${n}`).toBe(oracleInclusion(leaf, index, size, proof, root));
  }
  reject(proof, index, n, random.bytes(32));
  reject(proof, index, n, merkleRoot(leaves.slice(0, -1)));
  reject(proof, index, n, root, new Uint8Array([...leaf, 0]));
}

function checkConsistencyTampering(
  random: Random,
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  const reject = (p: readonly Uint8Array[], m = oldSize, n = newSize, a = oldRoot, b = newRoot): void => {
    expect(verifyConsistency(m, n, a, b, p), `${m}→${n} from ${oldSize}→${newSize}`).toBe(false);
  };
  for (let element = 0; element < proof.length; element++) {
    reject(flipBit(proof, element, random.int(0, 255)));
  }
  if (proof.length > 0) {
    reject(proof.slice(1));
    reject(proof.slice(0, -1));
  }
  reject([...proof, random.bytes(32)]);
  reject([oldRoot, ...proof]);
  reject([...proof, newRoot]);
  reject(proof, oldSize, newSize, random.bytes(32), newRoot);
  reject(proof, oldSize, newSize, oldRoot, random.bytes(32));
  if (oldSize !== newSize) reject(proof, oldSize, newSize, newRoot, oldRoot);
  const sizes: [number, number][] = [
    [oldSize - 1, newSize],
    [oldSize + 1, newSize],
    [oldSize, newSize - 1],
    [oldSize, newSize + 1],
    [oldSize, newSize * 2],
    [random.int(1, newSize), newSize],
  ];
  for (const [m, n] of sizes) {
    if (m === oldSize && n === newSize) continue;
    const verdict = verifyConsistency(m, n, oldRoot, newRoot, proof);
    expect(verdict, `${m}→${n} from ${oldSize}→${newSize}`).toBe(oracleConsistency(m, n, oldRoot, newRoot, proof));
  }
}

describe('Merkle tree hashing (RFC 6962 §2.1)', () => {
  it('hashes leaves and nodes with the 0x00 / 0x01 domain prefixes (rfc6962_test.go vectors)', () => {
    expect(hex(leafHash(new Uint8Array()))).toBe(CT_ROOTS[1]);
    expect(hex(leafHash(text('L123456')))).toBe('395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56');
    expect(hex(nodeHash(text('N123'), text('N456')))).toBe(
      'aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb',
    );
    expect(CT_LEAVES.map((leaf) => hex(leafHash(leaf)))).toEqual(CT_LEAF_HASHES);
  });

  it('hashes inputs of any length as SHA-256 over prefix and bytes', () => {
    for (const length of [0, 1, 36, 63, 64, 65, 127, 128, 129, 1000]) {
      const data = new Random(length).bytes(length);
      expect(hex(leafHash(data)), `leaf of ${length}`).toBe(hex(sha256(new Uint8Array([0]), data)));
      const right = data.slice().reverse();
      expect(hex(nodeHash(data, right)), `node of ${length}`).toBe(hex(sha256(new Uint8Array([1]), data, right)));
    }
  });

  it('gives the empty tree the SHA-256 of the empty string', () => {
    expect(hex(merkleRoot([]))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(new MerkleAccumulator().root())).toBe(CT_ROOTS[0]);
  });

  it('computes the CT reference roots for tree sizes 0..8', () => {
    for (let size = 0; size <= 8; size++) {
      expect(hex(merkleRoot(CT_LEAVES.slice(0, size))), `size ${size}`).toBe(CT_ROOTS[size]);
    }
  });

  it('accepts leaf byte strings without copying or altering them', () => {
    const leaves = CT_LEAVES.map((leaf) => leaf.slice());
    merkleRoot(leaves);
    inclusionProof(leaves, 3);
    consistencyProof(leaves, 3);
    expect(leaves.map(hex)).toEqual(CT_LEAVES.map(hex));
  });
});

describe('inclusion proofs (RFC 6962 §2.1.1, RFC 9162 §2.1.3.2)', () => {
  it('generates the CT reference audit paths', () => {
    for (const { index, size, proof } of CT_INCLUSION) {
      expect(hexes(inclusionProof(CT_LEAVES.slice(0, size), index)), `${index}/${size}`).toEqual(proof);
    }
  });

  it('verifies the CT reference audit paths against the reference roots', () => {
    for (const { index, size, proof } of CT_INCLUSION) {
      const ok = verifyInclusion(CT_LEAVES[index]!, index, size, proof.map(unhex), unhex(CT_ROOTS[size]!));
      expect(ok, `${index}/${size}`).toBe(true);
    }
  });

  it('verifies every audit path of every tree up to 64 leaves and rejects every tampered one', () => {
    const random = new Random(0x6962);
    const all = random.leaves(64);
    for (let n = 1; n <= 64; n++) {
      const leaves = all.slice(0, n);
      const root = merkleRoot(leaves);
      for (let index = 0; index < n; index++) {
        const proof = inclusionProof(leaves, index);
        expect(verifyInclusion(leaves[index]!, index, n, proof, root), `${index}/${n}`).toBe(true);
        checkInclusionTampering(random, leaves, index, proof, root);
      }
    }
  });

  it('verifies random audit paths in random trees of up to 300 leaves and rejects tampered ones', () => {
    const random = new Random(9162);
    for (let round = 0; round < 40; round++) {
      const n = random.int(1, 300);
      const leaves = random.leaves(n);
      const root = merkleRoot(leaves);
      for (const index of [0, n - 1, random.int(0, n - 1), random.int(0, n - 1), random.int(0, n - 1)]) {
        const proof = inclusionProof(leaves, index);
        expect(verifyInclusion(leaves[index]!, index, n, proof, root), `${index}/${n}`).toBe(true);
        checkInclusionTampering(random, leaves, index, proof, root);
      }
    }
  });

  it('rejects a wrong tree size whenever it changes the shape of the audit path', () => {
    // A size that keeps the recursion identical (e.g. leaf 0 of 3 vs of 4) is indistinguishable
    // by construction; every other wrong size must fail.
    const leaves = CT_LEAVES.slice(0, 3);
    const proof = inclusionProof(leaves, 0);
    const root = merkleRoot(leaves);
    expect(verifyInclusion(leaves[0]!, 0, 4, proof, root)).toBe(true);
    expect(verifyInclusion(leaves[0]!, 0, 6, proof, root)).toBe(false);
    expect(verifyInclusion(leaves[0]!, 0, 2, proof, root)).toBe(false);
    const n = 300;
    const random = new Random(7);
    const big = random.leaves(n);
    const bigRoot = merkleRoot(big);
    let rejected = 0;
    let accepted = 0;
    for (let index = 0; index < n; index += 7) {
      const bigProof = inclusionProof(big, index);
      for (let size = index + 1; size <= 2 * n; size++) {
        if (size === n) continue;
        const verdict = verifyInclusion(big[index]!, index, size, bigProof, bigRoot);
        expect(verdict).toBe(oracleInclusion(big[index]!, index, size, bigProof, bigRoot));
        if (verdict) accepted++;
        else rejected++;
      }
    }
    // Both outcomes occur, so the agreement above is not vacuous: many larger sizes keep a leaf's
    // path shape, which is why the root, not the size, is what a proof binds.
    expect(rejected).toBeGreaterThan(1000);
    expect(accepted).toBeGreaterThan(1000);
  });

  it('uses arithmetic that holds for indices and sizes beyond 2^32', () => {
    const random = new Random(32);
    for (const [index, size] of [
      [2 ** 33 + 5, 2 ** 35 + 3],
      [2 ** 40 - 1, 2 ** 40],
      [2 ** 52 + 12345, 2 ** 53 - 1],
    ] as const) {
      const leaf = random.bytes(36);
      const proof = Array.from({ length: inclusionPathLength(index, size) }, () => random.bytes(32));
      const root = rootFromPath(leaf, index, size, proof);
      expect(verifyInclusion(leaf, index, size, proof, root), `${index}/${size}`).toBe(true);
      expect(verifyInclusion(leaf, index - 1, size, proof, root)).toBe(false);
      expect(verifyInclusion(leaf, index, size, flipBit(proof, proof.length - 1, 3), root)).toBe(false);
    }
  });

  it('throws a RangeError for a leaf index outside the tree', () => {
    expect(() => inclusionProof(CT_LEAVES, 8)).toThrow(RangeError);
    expect(() => inclusionProof(CT_LEAVES, -1)).toThrow(RangeError);
    expect(() => inclusionProof(CT_LEAVES, 1.5)).toThrow(RangeError);
    expect(() => inclusionProof([], 0)).toThrow(/outside a tree of 0 leaves/);
  });

  it('returns false rather than throwing on malformed verifier input', () => {
    const proof = inclusionProof(CT_LEAVES, 5);
    const root = unhex(CT_ROOTS[8]!);
    const leaf = CT_LEAVES[5]!;
    const bad: [unknown, unknown, unknown, unknown, unknown][] = [
      [leaf, 5, 8, proof, root.subarray(1)],
      [leaf, 5, 8, proof, null],
      [leaf, 5, 8, proof, 'root'],
      [leaf, 5, 8, null, root],
      [leaf, 5, 8, undefined, root],
      [leaf, 5, 8, 'proof', root],
      [leaf, 5, 8, [proof[0], 'x', proof[2]], root],
      [leaf, 5, 8, [proof[0], proof[1]!.subarray(0, 31), proof[2]], root],
      [leaf, 5, 8, [proof[0], new Uint8Array(33), proof[2]], root],
      [leaf, 5, 8, [proof[0], undefined, proof[2]], root],
      [leaf, 5, 8, Array.from({ length: 10_000 }, () => proof[0]), root],
      [null, 5, 8, proof, root],
      ['leaf', 5, 8, proof, root],
      [leaf, -1, 8, proof, root],
      [leaf, 5.5, 8, proof, root],
      [leaf, Number.NaN, 8, proof, root],
      [leaf, Number.POSITIVE_INFINITY, 8, proof, root],
      [leaf, 5n, 8, proof, root],
      [leaf, '5', 8, proof, root],
      [leaf, 5, 5, proof, root],
      [leaf, 5, 0, proof, root],
      [leaf, 5, -8, proof, root],
      [leaf, 5, 2 ** 53, proof, root],
      [leaf, 5, Number.NaN, proof, root],
    ];
    for (const args of bad) {
      expect(() => verifyInclusion(...(args as Parameters<typeof verifyInclusion>))).not.toThrow();
      expect(verifyInclusion(...(args as Parameters<typeof verifyInclusion>))).toBe(false);
    }
    expect(verifyInclusion(leaf, 5, 8, proof, root)).toBe(true);
  });
});

describe('consistency proofs (RFC 6962 §2.1.2, RFC 9162 §2.1.4.2)', () => {
  it('generates the CT reference consistency proofs', () => {
    for (const { oldSize, newSize, proof } of CT_CONSISTENCY) {
      const got = consistencyProof(CT_LEAVES.slice(0, newSize), oldSize);
      expect(hexes(got), `${oldSize}→${newSize}`).toEqual(proof);
    }
  });

  it('verifies the CT reference consistency proofs against the reference roots', () => {
    for (const { oldSize, newSize, proof } of CT_CONSISTENCY) {
      const ok = verifyConsistency(
        oldSize,
        newSize,
        unhex(CT_ROOTS[oldSize]!),
        unhex(CT_ROOTS[newSize]!),
        proof.map(unhex),
      );
      expect(ok, `${oldSize}→${newSize}`).toBe(true);
    }
  });

  it('verifies every consistency proof between trees up to 64 leaves and rejects every tampered one', () => {
    const random = new Random(0xc0);
    const all = random.leaves(64);
    const roots = Array.from({ length: 65 }, (_, size) => merkleRoot(all.slice(0, size)));
    for (let n = 1; n <= 64; n++) {
      const leaves = all.slice(0, n);
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(leaves, m);
        expect(verifyConsistency(m, n, roots[m]!, roots[n]!, proof), `${m}→${n}`).toBe(true);
        checkConsistencyTampering(random, m, n, roots[m]!, roots[n]!, proof);
      }
    }
  });

  it('verifies random consistency proofs in random trees of up to 300 leaves and rejects tampered ones', () => {
    const random = new Random(6962);
    for (let round = 0; round < 40; round++) {
      const n = random.int(1, 300);
      const leaves = random.leaves(n);
      const newRoot = merkleRoot(leaves);
      for (const m of [1, n, random.int(1, n), random.int(1, n), random.int(1, n)]) {
        const oldRoot = merkleRoot(leaves.slice(0, m));
        const proof = consistencyProof(leaves, m);
        expect(verifyConsistency(m, n, oldRoot, newRoot, proof), `${m}→${n}`).toBe(true);
        checkConsistencyTampering(random, m, n, oldRoot, newRoot, proof);
      }
    }
  });

  it('accepts equal sizes only with an empty proof and equal roots', () => {
    const root = unhex(CT_ROOTS[5]!);
    expect(consistencyProof(CT_LEAVES.slice(0, 5), 5)).toEqual([]);
    expect(verifyConsistency(5, 5, root, root, [])).toBe(true);
    expect(verifyConsistency(5, 5, root, unhex(CT_ROOTS[6]!), [])).toBe(false);
    expect(verifyConsistency(5, 5, root, root, [root])).toBe(false);
  });

  it('uses arithmetic that holds for sizes beyond 2^32', () => {
    const random = new Random(64);
    for (const [m, n] of [
      [2 ** 33 + 7, 2 ** 35 + 1],
      [2 ** 32, 2 ** 32 + 1],
      [2 ** 52 - 3, 2 ** 53 - 1],
    ] as const) {
      const proof = Array.from({ length: consistencyPathLength(m, n, true) }, () => random.bytes(32));
      const oldRoot = isPowerOfTwo(m) ? random.bytes(32) : new Uint8Array(32);
      const [fr, sr] = rootsFromConsistencyPath(m, n, oldRoot, proof);
      expect(verifyConsistency(m, n, fr, sr, proof), `${m}→${n}`).toBe(true);
      expect(verifyConsistency(m, n, fr, sr, flipBit(proof, proof.length - 1, 9))).toBe(false);
      expect(verifyConsistency(m + 2, n, fr, sr, proof)).toBe(false);
    }
  });

  it('throws a RangeError for an old size of 0 or beyond the new size', () => {
    expect(() => consistencyProof(CT_LEAVES, 0)).toThrow(RangeError);
    expect(() => consistencyProof(CT_LEAVES, 9)).toThrow(/between 1 and the new size 8/);
    expect(() => consistencyProof(CT_LEAVES, 2.5)).toThrow(RangeError);
    expect(() => consistencyProof([], 0)).toThrow(RangeError);
  });

  it('returns false rather than throwing on malformed verifier input', () => {
    const proof = consistencyProof(CT_LEAVES, 6);
    const oldRoot = unhex(CT_ROOTS[6]!);
    const newRoot = unhex(CT_ROOTS[8]!);
    const bad: [unknown, unknown, unknown, unknown, unknown][] = [
      [0, 8, oldRoot, newRoot, proof],
      [0, 0, unhex(CT_ROOTS[0]!), unhex(CT_ROOTS[0]!), []],
      [-6, 8, oldRoot, newRoot, proof],
      [9, 8, oldRoot, newRoot, proof],
      [6.5, 8, oldRoot, newRoot, proof],
      [Number.NaN, 8, oldRoot, newRoot, proof],
      ['6', 8, oldRoot, newRoot, proof],
      [6n, 8, oldRoot, newRoot, proof],
      [6, Number.POSITIVE_INFINITY, oldRoot, newRoot, proof],
      [6, 2 ** 53, oldRoot, newRoot, proof],
      [6, undefined, oldRoot, newRoot, proof],
      [6, 8, oldRoot.subarray(2), newRoot, proof],
      [6, 8, null, newRoot, proof],
      [6, 8, oldRoot, 'root', proof],
      [6, 8, oldRoot, newRoot, []],
      [6, 8, oldRoot, newRoot, null],
      [6, 8, oldRoot, newRoot, { length: 3 }],
      [6, 8, oldRoot, newRoot, [proof[0], 42, proof[2]]],
      [6, 8, oldRoot, newRoot, [proof[0], proof[1], new Uint8Array(31)]],
      [6, 8, oldRoot, newRoot, Array.from({ length: 10_000 }, () => proof[1])],
      [4, 8, oldRoot, newRoot, []],
    ];
    for (const args of bad) {
      expect(() => verifyConsistency(...(args as Parameters<typeof verifyConsistency>))).not.toThrow();
      expect(verifyConsistency(...(args as Parameters<typeof verifyConsistency>))).toBe(false);
    }
    expect(verifyConsistency(6, 8, oldRoot, newRoot, proof)).toBe(true);
  });
});

describe('MerkleAccumulator', () => {
  it('equals merkleRoot after every push, for every size 0..300', () => {
    const leaves = new Random(300).leaves(300);
    const accumulator = new MerkleAccumulator();
    const byHash = new MerkleAccumulator();
    expect(hex(accumulator.root())).toBe(hex(merkleRoot([])));
    for (let size = 1; size <= leaves.length; size++) {
      accumulator.push(leaves[size - 1]!);
      byHash.pushLeafHash(leafHash(leaves[size - 1]!));
      expect(accumulator.size).toBe(size);
      const expected = hex(merkleRoot(leaves.slice(0, size)));
      expect(hex(accumulator.root()), `size ${size}`).toBe(expected);
      expect(hex(byHash.root()), `size ${size} by hash`).toBe(expected);
    }
  });

  it('reproduces the CT reference roots', () => {
    const accumulator = new MerkleAccumulator();
    expect(hex(accumulator.root())).toBe(CT_ROOTS[0]);
    for (const [i, leaf] of CT_LEAVES.entries()) {
      accumulator.push(leaf);
      expect(hex(accumulator.root())).toBe(CT_ROOTS[i + 1]);
    }
  });

  it('keeps its state private from the hashes it is given and the roots it returns', () => {
    const accumulator = new MerkleAccumulator();
    const hash = leafHash(CT_LEAVES[0]!);
    accumulator.pushLeafHash(hash);
    hash.fill(0);
    const root = accumulator.root();
    expect(hex(root)).toBe(CT_ROOTS[1]);
    root.fill(0);
    expect(hex(accumulator.root())).toBe(CT_ROOTS[1]);
    accumulator.push(CT_LEAVES[1]!);
    expect(hex(accumulator.root())).toBe(CT_ROOTS[2]);
  });

  it('rejects a leaf hash that is not 32 bytes', () => {
    const accumulator = new MerkleAccumulator();
    expect(() => accumulator.pushLeafHash(new Uint8Array(31))).toThrow(RangeError);
    expect(accumulator.size).toBe(0);
  });
});

// Helpers for trees too large to build: evaluate the RFC 6962 recursion on arbitrary hashes.

function isPowerOfTwo(n: number): boolean {
  return split(n + 1) === n;
}

function inclusionPathLength(index: number, size: number): number {
  if (size === 1) return 0;
  const k = split(size);
  return 1 + (index < k ? inclusionPathLength(index, k) : inclusionPathLength(index - k, size - k));
}

function rootFromPath(leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[]): Uint8Array {
  let end = proof.length;
  const walk = (m: number, n: number): Uint8Array => {
    if (n === 1) return leafHash(leaf);
    const sibling = proof[--end]!;
    const k = split(n);
    return m < k ? nodeHash(walk(m, k), sibling) : nodeHash(sibling, walk(m - k, n - k));
  };
  return walk(index, size);
}

function consistencyPathLength(m: number, n: number, oldRootKnown: boolean): number {
  if (m === n) return oldRootKnown ? 0 : 1;
  const k = split(n);
  return 1 + (m <= k ? consistencyPathLength(m, k, oldRootKnown) : consistencyPathLength(m - k, n - k, false));
}

function rootsFromConsistencyPath(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  proof: readonly Uint8Array[],
): [Uint8Array, Uint8Array] {
  let end = proof.length;
  const walk = (m: number, n: number, oldRootKnown: boolean): [Uint8Array, Uint8Array] => {
    if (m === n && oldRootKnown) return [oldRoot, oldRoot];
    const hash = proof[--end]!;
    if (m === n) return [hash, hash];
    const k = split(n);
    if (m <= k) {
      const [fr, sr] = walk(m, k, oldRootKnown);
      return [fr, nodeHash(sr, hash)];
    }
    const [fr, sr] = walk(m - k, n - k, false);
    return [nodeHash(hash, fr), nodeHash(hash, sr)];
  };
  return walk(oldSize, newSize, true);
}
