// The product's seeded PRNG (mulberry32), plus random text for property tests, so they explore
// the same cases on every run.
import { seededRandom as productRandom } from '../../bench/random.js';

/** Where a dag-cbor head's argument changes size (1, 2, 3, 5 and 9 bytes): the integers an encoder must get right. */
export const HEAD_ARGUMENT_EDGES = [1, 2, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1] as const;

export function seededRandom(seed: number): {
  next(): number;
  int(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
  text(max: number): string;
} {
  const random = productRandom(seed);
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_é€😀';
  return {
    ...random,
    text: (max) =>
      Array.from({ length: random.int(0, max) }, () => alphabet[random.int(0, alphabet.length - 1)]).join(''),
  };
}
