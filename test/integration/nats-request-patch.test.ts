// The nats.js request fix (appliance/cluster/nats-request-patch.ts) on a real nats-server: an
// answered request builds no error, and requests that time out or find no responder still fail
// with the codes the event store's retries read.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NatsError, type NatsConnection } from 'nats';
import { natsRequestPatched } from '../../appliance/cluster/nats-request-patch.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

let t: TestCluster;
let nc: NatsConnection;

beforeAll(async () => {
  t = await startTestCluster('nats-request-patch', 1);
  nc = t.nc;
  nc.subscribe('patch.echo', { callback: (_err, m) => m.respond(m.data) });
  nc.subscribe('patch.silent', { callback: () => {} });
  await nc.flush();
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

describe('nats.js request patch', () => {
  it('is in place on the nats.js the appliance loads', () => {
    expect(natsRequestPatched()).toBe(true);
  });

  it('answers requests without building a "Cancelled" error for each', async () => {
    const errors = vi.spyOn(NatsError, 'errorForCode');
    try {
      const replies = await Promise.all(
        Array.from({ length: 100 }, (_, i) => nc.request('patch.echo', new TextEncoder().encode(String(i)))),
      );
      expect(replies.map((m) => new TextDecoder().decode(m.data))).toEqual(
        Array.from({ length: 100 }, (_, i) => String(i)),
      );
      expect(errors).not.toHaveBeenCalled();
    } finally {
      errors.mockRestore();
    }
  });

  it('still fails a request nobody answers in time with TIMEOUT', async () => {
    await expect(nc.request('patch.silent', new Uint8Array(), { timeout: 200 })).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
  });

  it('still fails a request nobody listens to with 503 (no responders)', async () => {
    await expect(nc.request('patch.nobody', new Uint8Array(), { timeout: 2_000 })).rejects.toMatchObject({
      code: '503',
    });
  });
});
