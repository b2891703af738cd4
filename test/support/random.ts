// A seeded PRNG (mulberry32) so property tests explore the same cases on every run.
export function seededRandom(seed: number): { next(): number; int(lo: number, hi: number): number; pick<T>(items: readonly T[]): T; text(max: number): string } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_é€😀';
  return {
    next,
    int,
    pick: (items) => items[int(0, items.length - 1)]!,
    text: (max) => Array.from({ length: int(0, max) }, () => alphabet[int(0, alphabet.length - 1)]).join(''),
  };
}
