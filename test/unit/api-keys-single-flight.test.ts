// A burst of requests with one token that is not yet cached (a load tool opening its connections,
// a client's first requests in parallel) costs one scrypt, not one each: concurrent verifications
// of the same token share the one in flight, and so all answer with the one identity it made.
import { describe, expect, it } from 'vitest';
import { createApiKey, KeyRing } from '../../appliance/index.js';

describe('KeyRing.verify under a burst', () => {
  it('given 64 concurrent verifications of one uncached token, they share one verification', async () => {
    const { token, entry } = await createApiKey('writer', 'burst');
    const ring = new KeyRing([entry]);
    const identities = await Promise.all(Array.from({ length: 64 }, () => ring.verify(token)));
    expect(identities[0]).toMatchObject({ actor: 'burst', role: 'writer' });
    // Each scrypt check makes an identity of its own: one object means one check.
    expect(new Set(identities).size).toBe(1);
  });

  it('given concurrent wrong secrets, none verifies, and a later right one still does', async () => {
    const { token, entry } = await createApiKey('reader', 'r');
    const ring = new KeyRing([entry]);
    const wrong = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    expect(await Promise.all([ring.verify(wrong), ring.verify(wrong)])).toEqual([undefined, undefined]);
    expect(await ring.verify(token)).toMatchObject({ actor: 'r', role: 'reader' });
  });
});
