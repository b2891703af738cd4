// The gateway's start and the answers it gives without NATS: a listen address that is not
// HOST:PORT or is taken is a CIM error, and a closed connection makes /readyz 503 while /healthz
// still answers.
import { createServer } from 'node:net';
import type { NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { isCimError, KeyRing, referenceDomains, startGateway } from '../../appliance/index.js';

const closed = { isClosed: () => true } as unknown as NatsConnection;
const options = { nc: closed, domains: referenceDomains, keys: new KeyRing([]) };

describe('gateway start', () => {
  it.each(['localhost', ':8080', 'localhost:99999', 'localhost:http'])(
    'refuses the listen address %j',
    async (listen) => {
      const error = await startGateway({ ...options, listen }).catch((e: unknown) => e);
      expect(isCimError(error, 'CIM-INVALID-CONFIG')).toBe(true);
    },
  );

  it('given a port already taken, fails with CIM-UNAVAILABLE and leaves nothing listening', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const error = await startGateway({ ...options, listen: `127.0.0.1:${port}` }).catch((e: unknown) => e);
      expect(isCimError(error, 'CIM-UNAVAILABLE')).toBe(true);
    } finally {
      taken.close();
    }
  });

  it('given a closed NATS connection, /readyz is 503 CIM-UNAVAILABLE and /healthz 200', async () => {
    const gateway = await startGateway({ ...options, listen: '127.0.0.1:0' });
    try {
      expect(gateway.address).toMatch(/^127\.0\.0\.1:\d+$/);
      const ready = await fetch(`${gateway.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ code: 'CIM-UNAVAILABLE' });
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    } finally {
      await gateway.stop();
    }
  });

  it('given an IPv6 listen address in brackets, listens there', async () => {
    const gateway = await startGateway({ ...options, listen: '[::1]:0' }).catch((e: unknown) => e);
    // A machine without IPv6 loopback refuses to listen; that is the only other outcome allowed.
    if (isCimError(gateway)) return expect(gateway.code).toBe('CIM-UNAVAILABLE');
    const handle = gateway as Awaited<ReturnType<typeof startGateway>>;
    try {
      expect(handle.address).toMatch(/^\[::1\]:\d+$/);
    } finally {
      await handle.stop();
    }
  });
});
