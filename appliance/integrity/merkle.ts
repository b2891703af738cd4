// RFC 6962 / RFC 9162 Merkle Tree Hash over a stream's event CIDs: roots, a constant-memory
// accumulator for verifying long streams, and inclusion and consistency proofs.
import * as crypto from 'node:crypto';

const HASH_SIZE = 32;
// Domain separation keeps a leaf from ever being passed off as an interior node (RFC 6962 §2.1).
const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

// crypto.hash (Node ≥ 20.12) skips the Hash object and halves the cost per node, which is most
// of the cost of verifying a stream. It takes one buffer, so prefix and inputs are copied into
// a scratch buffer first; this is safe because nothing yields between the copy and the hash.
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;
const scratch = new Uint8Array(1 + 2 * 64);

function digest(prefix: Uint8Array, a: Uint8Array, b?: Uint8Array): Uint8Array {
  const length = 1 + a.length + (b ? b.length : 0);
  if (oneShot && length <= scratch.length) {
    scratch.set(prefix, 0);
    scratch.set(a, 1);
    if (b) scratch.set(b, 1 + a.length);
    return oneShot('sha256', scratch.subarray(0, length), 'buffer');
  }
  const hash = crypto.createHash('sha256').update(prefix).update(a);
  return (b ? hash.update(b) : hash).digest();
}

/** SHA-256(0x00 || data). */
export function leafHash(data: Uint8Array): Uint8Array {
  return digest(LEAF_PREFIX, data);
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return digest(NODE_PREFIX, left, right);
}

function emptyRoot(): Uint8Array {
  return crypto.createHash('sha256').digest();
}

/** MTH(D[n]); the empty tree's hash is SHA-256 of the empty string. */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  return rangeRoot(leaves, 0, leaves.length);
}

/**
 * MTH(D[lo:hi]) without slicing: leaves are folded into a stack of perfect-subtree roots, so
 * proof generation can hash the sibling ranges it needs in place.
 */
function rangeRoot(leaves: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  if (hi <= lo) return emptyRoot();
  const stack: Uint8Array[] = [];
  for (let i = lo; i < hi; i++) {
    let hash = leafHash(leaves[i] as Uint8Array);
    // Each trailing one bit of the count so far is a perfect subtree the new leaf completes.
    for (let n = i - lo; n & 1; n >>>= 1) hash = nodeHash(stack.pop() as Uint8Array, hash);
    stack.push(hash);
  }
  return foldStack(stack);
}

/** Right-to-left fold of a compact range; the caller owns the result even for a one-entry stack. */
function foldStack(stack: readonly Uint8Array[]): Uint8Array {
  let i = stack.length - 1;
  let hash = stack[i] as Uint8Array;
  if (i === 0) return hash;
  while (i > 0) hash = nodeHash(stack[--i] as Uint8Array, hash);
  return hash;
}

/**
 * Streaming MTH with O(log n) memory: the compact range of everything pushed so far, one
 * perfect-subtree root per set bit of the size, largest (leftmost) first.
 */
export class MerkleAccumulator {
  readonly #stack: Uint8Array[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Appends raw leaf data (it is hashed with the leaf prefix). */
  push(leaf: Uint8Array): void {
    this.#append(leafHash(leaf));
  }

  /** Appends an already computed leaf hash. */
  pushLeafHash(hash: Uint8Array): void {
    if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
      throw new RangeError(`leaf hash must be ${HASH_SIZE} bytes`);
    }
    // Copied so a caller reusing its buffer cannot rewrite history.
    this.#append(new Uint8Array(hash));
  }

  /**
   * Appends the root of a perfect subtree of 2^height leaves (computed elsewhere, e.g. on a worker
   * thread); only where such a subtree starts, at a size that is a multiple of 2^height.
   */
  pushSubtree(root: Uint8Array, height: number): void {
    const leaves = 2 ** height;
    if (root.length !== HASH_SIZE || this.#size % leaves !== 0) {
      throw new RangeError(`a subtree of ${leaves} leaves cannot start at leaf ${this.#size}`);
    }
    let hash: Uint8Array = new Uint8Array(root);
    for (let n = this.#size / leaves; n % 2 === 1; n = (n - 1) / 2) hash = nodeHash(this.#stack.pop()!, hash);
    this.#stack.push(hash);
    this.#size += leaves;
  }

  /** MTH of everything pushed so far; pushing may continue afterwards. */
  root(): Uint8Array {
    const stack = this.#stack;
    if (stack.length === 0) return emptyRoot();
    // A copy: Buffer#slice would share memory, letting the caller corrupt the accumulator.
    if (stack.length === 1) return new Uint8Array(stack[0] as Uint8Array);
    return foldStack(stack);
  }

  #append(hash: Uint8Array): void {
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError('accumulator is full');
    // Arithmetic rather than bit operators: sizes may exceed 2^32.
    for (let n = this.#size; n % 2 === 1; n = (n - 1) / 2) {
      hash = nodeHash(this.#stack.pop() as Uint8Array, hash);
    }
    this.#stack.push(hash);
    this.#size++;
  }
}

/** Largest power of two strictly below n, for 2 ≤ n < 2^32: RFC 6962's split point k. */
function splitPoint(n: number): number {
  return 2 ** (31 - Math.clz32(n - 1));
}

/** PATH(index, D[n]) of RFC 6962 §2.1.1, deepest sibling first. */
export function inclusionProof(leaves: readonly Uint8Array[], index: number): Uint8Array[] {
  const n = leaves.length;
  if (!Number.isInteger(index) || index < 0 || index >= n) {
    throw new RangeError(`leaf index ${index} is outside a tree of ${n} leaves`);
  }
  // Walking down from the root collects siblings top first; the proof lists them bottom first.
  const path: Uint8Array[] = [];
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const mid = lo + splitPoint(hi - lo);
    if (index < mid) {
      path.push(rangeRoot(leaves, mid, hi));
      hi = mid;
    } else {
      path.push(rangeRoot(leaves, lo, mid));
      lo = mid;
    }
  }
  return path.reverse();
}

/** PROOF(oldSize, D[n]) of RFC 6962 §2.1.2 for 0 < oldSize ≤ n; empty when oldSize = n. */
export function consistencyProof(leaves: readonly Uint8Array[], oldSize: number): Uint8Array[] {
  const n = leaves.length;
  if (!Number.isInteger(oldSize) || oldSize < 1 || oldSize > n) {
    throw new RangeError(`old tree size ${oldSize} must be between 1 and the new size ${n}`);
  }
  // SUBPROOF(m, D[lo:hi], b) unrolled: each step appends after the recursive part, so the
  // hashes gathered on the way down come out in reverse.
  const path: Uint8Array[] = [];
  let lo = 0;
  let hi = n;
  let oldRootKnown = true;
  while (oldSize < hi) {
    const mid = lo + splitPoint(hi - lo);
    if (oldSize <= mid) {
      path.push(rangeRoot(leaves, mid, hi));
      hi = mid;
    } else {
      path.push(rangeRoot(leaves, lo, mid));
      lo = mid;
      oldRootKnown = false;
    }
  }
  if (!oldRootKnown) path.push(rangeRoot(leaves, lo, hi));
  return path.reverse();
}

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}

function isProof(value: unknown): value is readonly Uint8Array[] {
  return Array.isArray(value) && value.every(isHash);
}

function isSize(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * RFC 9162 §2.1.3.2: does `proof` show `leafData` at `index` in the tree of `treeSize` leaves
 * whose root is `root`? Malformed input of any kind is simply a failed proof.
 */
export function verifyInclusion(
  leafData: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!(leafData instanceof Uint8Array) || !isSize(index) || !isSize(treeSize)) return false;
  if (index >= treeSize || !isProof(proof) || !isHash(root)) return false;
  // Halving with arithmetic, not >>>, because indices may exceed 2^32.
  let fn = index;
  let sn = treeSize - 1;
  let hash = leafHash(leafData);
  for (const sibling of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      hash = nodeHash(sibling, hash);
      // Levels where this node is a promoted right edge have no sibling in the proof.
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      hash = nodeHash(hash, sibling);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(hash, root);
}

/**
 * RFC 9162 §2.1.4.2: is the tree of `newSize` leaves with root `newRoot` an append-only
 * extension of the tree of `oldSize` leaves with root `oldRoot`? Requires 0 < oldSize ≤ newSize;
 * equal sizes need an empty proof and equal roots. Malformed input is simply a failed proof.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize < 1 || oldSize > newSize) return false;
  if (!isHash(oldRoot) || !isHash(newRoot) || !isProof(proof)) return false;
  if (oldSize === newSize) return proof.length === 0 && equalBytes(oldRoot, newRoot);
  if (proof.length === 0) return false;

  let fn = oldSize - 1;
  let sn = newSize - 1;
  // When the old tree is a perfect subtree of the new one, its root is the proof's implicit
  // first element rather than being sent.
  let next = 0;
  const first = isPowerOfTwo(oldSize) ? oldRoot : (proof[next++] as Uint8Array);
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  let fr = first;
  let sr = first;
  for (; next < proof.length; next++) {
    const c = proof[next] as Uint8Array;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(fr, oldRoot) && equalBytes(sr, newRoot);
}
