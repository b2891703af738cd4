// A burst of requests with one token that is not yet cached (a load tool opening its connections,
// a client's first requests in parallel) costs one scrypt, not one each: concurrent verifications
// of the same token share the one in flight.
import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';

const calls = vi.hoisted(() => ({ scrypt: 0 }));
vi.mock('node:crypto', async (original) => {
  const actual = await original<typeof crypto>();
  return {
    ...actual,
    scrypt: (...args: Parameters<typeof actual.scrypt>) => {
      calls.scrypt++;
      return (actual.scrypt as (...a: unknown[]) => void)(...args);
    },
  };
});

const { createApiKey, KeyRing } = await import('../../appliance/api/index.js');

describe('KeyRing.verify under a burst', () => {
  it('given 64 concurrent verifications of one uncached token, scrypt runs once and all get the identity', async () => {
    const { token, entry } = await createApiKey('writer', 'burst');
    const ring = new KeyRing([entry]);
    calls.scrypt = 0;
    const identities = await Promise.all(Array.from({ length: 64 }, () => ring.verify(token)));
    expect(identities.every((i) => i?.actor === 'burst')).toBe(true);
    expect(calls.scrypt).toBe(1);
  });

  it('given concurrent wrong secrets, none verifies, and a later right one still does', async () => {
    const { token, entry } = await createApiKey('reader', 'r');
    const ring = new KeyRing([entry]);
    const wrong = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    expect(await Promise.all([ring.verify(wrong), ring.verify(wrong)])).toEqual([undefined, undefined]);
    expect(await ring.verify(token)).toMatchObject({ actor: 'r', role: 'reader' });
  });
});
