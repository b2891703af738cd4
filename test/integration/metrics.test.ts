// Metrics and logs of a real appliance on a real 3-node cluster, scraped over real HTTP from the
// gateway: the exposition parses as Prometheus text, the counters move by exactly the traffic
// sent (ok and refused), the histograms count it, projection lag returns to 0 after catch-up,
// seals get an age, a restarted server counts as a reconnect, no label holds an aggregate id or an
// actor, and the JSON log lines carry the correlation ids and none of the payloads.
import { Writable } from 'node:stream';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApplianceMetrics,
  connectNats,
  createApiKey,
  createLogger,
  KeyRing,
  projectionLag,
  referenceDomains,
  startAppliance,
  startGateway,
  type ApplianceHandle,
  type GatewayHandle,
} from '../../appliance/index.js';
import { parseExposition, sampleValue, type Exposition } from '../support/prometheus.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait.js';

const OK = 12;
const REJECTED = 4;
const INVALID = 3;
const ACTOR = 'writer-metrics-7';

let t: TestCluster;
let appliance: ApplianceHandle;
let gateway: GatewayHandle;
let gatewayNc: NatsConnection;
let watched: NatsConnection | undefined;
let token: string;
const metrics = new ApplianceMetrics();
const logLines: string[] = [];

async function scrape(): Promise<{ text: string; e: Exposition }> {
  const response = await fetch(`${gateway.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  return { text, e: parseExposition(text) };
}

function post(command: string, payload: unknown, correlationId: string): Promise<Response> {
  return fetch(`${gateway.url}/v1/commands/person/${command}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'x-correlation-id': correlationId,
    },
    body: JSON.stringify(payload),
  });
}

beforeAll(async () => {
  t = await startTestCluster('metrics', 3);
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  appliance = await startAppliance({
    endpointFor: (role) => t.cluster.endpointFor(role),
    stateDir: t.stateDir,
    replicas: 3,
    sealEveryMs: 500,
    logger: createLogger({ format: 'json', level: 'debug', destination }),
    metrics,
  });
  const { token: key, entry } = await createApiKey('writer', ACTOR);
  token = key;
  gatewayNc = await connectNats(t.cluster.endpointFor('gateway'), { name: 'test-gateway' });
  gateway = await startGateway({
    nc: gatewayNc,
    listen: '127.0.0.1:0',
    domains: referenceDomains,
    keys: new KeyRing([entry]),
    metrics,
  });
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await gatewayNc?.close().catch(() => {});
  await watched?.close().catch(() => {});
  await appliance?.stop();
  await t?.stop();
}, 60_000);

describe('metrics on a real appliance', () => {
  it('move by exactly the traffic sent, in text that parses, with no aggregate id or actor as a label', async () => {
    const before = (await scrape()).e;
    expect(sampleValue(before, 'cim_commands_total', { domain: 'person', command: 'RegisterPerson' })).toBeUndefined();
    const ids = Array.from({ length: OK }, (_, i) => `metrics-person-${i}`);
    for (const [i, personId] of ids.entries()) {
      const r = await post(
        'RegisterPerson',
        { personId, name: `Secret Name ${i}`, email: `${personId}@example.org` },
        `corr-ok-${i}`,
      );
      expect(r.status).toBe(200);
    }
    for (let i = 0; i < REJECTED; i++) {
      // Registered already: a business rule refuses it.
      const r = await post(
        'RegisterPerson',
        { personId: ids[i], name: 'Again', email: 'again@example.org' },
        `corr-rej-${i}`,
      );
      expect(r.status).toBe(422);
    }
    for (let i = 0; i < INVALID; i++) {
      const r = await post('RegisterPerson', { personId: `bad-${i}`, name: 'No email' }, `corr-bad-${i}`);
      expect(r.status).toBe(400);
    }
    expect((await fetch(`${gateway.url}/v1/metrics-person-0/raw-url`)).status).toBe(404);

    const { text, e } = await scrape();
    const labels = { domain: 'person', command: 'RegisterPerson' };
    expect(sampleValue(e, 'cim_commands_total', { ...labels, outcome: 'ok' })).toBe(OK);
    expect(sampleValue(e, 'cim_commands_total', { ...labels, outcome: 'CIM-REJECTED' })).toBe(REJECTED);
    expect(sampleValue(e, 'cim_commands_total', { ...labels, outcome: 'CIM-INVALID-INPUT' })).toBe(INVALID);
    expect(sampleValue(e, 'cim_command_duration_seconds_count', labels)).toBe(OK + REJECTED + INVALID);
    expect(sampleValue(e, 'cim_command_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(
      OK + REJECTED + INVALID,
    );
    expect(sampleValue(e, 'cim_command_duration_seconds_sum', labels)).toBeGreaterThan(0);
    expect(sampleValue(e, 'cim_events_appended_total', { domain: 'person' })).toBe(OK);
    const route = { route: '/v1/commands/:domain/:command', method: 'POST' };
    expect(sampleValue(e, 'cim_http_requests_total', { ...route, status: '200' })).toBe(OK);
    expect(sampleValue(e, 'cim_http_requests_total', { ...route, status: '422' })).toBe(REJECTED);
    expect(sampleValue(e, 'cim_http_requests_total', { ...route, status: '400' })).toBe(INVALID);
    expect(sampleValue(e, 'cim_http_request_duration_seconds_count', route)).toBe(OK + REJECTED + INVALID);
    expect(sampleValue(e, 'cim_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' })).toBe(1);
    expect(sampleValue(e, 'cim_nats_connected', { connection: 'cim-serve' })).toBe(1);
    expect(sampleValue(e, 'cim_nats_connected', { connection: 'cim-serve-projections' })).toBe(1);
    expect(sampleValue(e, 'cim_nats_reconnects_total', { connection: 'cim-serve' })).toBe(0);
    expect(e.types.get('process_resident_memory_bytes')).toBe('gauge');

    // Bounded labels: nothing the client chose is a label value, nor is the raw URL.
    const values = e.samples.flatMap((s) => Object.values(s.labels));
    for (const v of values) {
      expect(v).not.toMatch(/metrics-person|bad-|example\.org|Secret|corr-/);
      expect(v).not.toBe(ACTOR);
    }
    expect(text).not.toContain(ACTOR);
    expect(text).not.toContain('raw-url');
  });

  it('reports projection lag from the streams, and 0 once the projections caught up', async () => {
    const { e } = await waitFor('the projections to catch up', async () => {
      const s = await scrape();
      return sampleValue(s.e, 'cim_projection_lag_events', { projection: 'person_directory' }) === 0 ? s : undefined;
    });
    expect(sampleValue(e, 'cim_projection_lag_seconds', { projection: 'person_directory' })).toBe(0);
    for (const projection of Object.keys(appliance.projections()))
      expect(sampleValue(e, 'cim_projection_lag_events', { projection })).toBe(0);
    // The same computation for a projection that applied nothing: every event of the stream, the oldest's age.
    const jsm = await t.nc.jetstreamManager();
    const [lag] = await projectionLag(jsm, { fresh: { domains: { person: { checkpoint: 0 } } } });
    expect(lag).toMatchObject({ projection: 'fresh', events: OK });
    expect(lag!.seconds).toBeGreaterThan(0);
    expect(lag!.seconds).toBeLessThan(300);
    const [half] = await projectionLag(jsm, { half: { domains: { person: { checkpoint: OK - 2 } } } });
    expect(half).toMatchObject({ events: 2 });
  });

  it('gives each sealed domain a seal age', async () => {
    const age = await waitFor('a seal of person', async () =>
      sampleValue((await scrape()).e, 'cim_seal_age_seconds', { domain: 'person' }),
    );
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(60);
  });

  it('counts a reconnect when the server a connection uses restarts', async () => {
    const node = t.cluster.nodeNames[0]!;
    watched = await connectNats(t.cluster.endpointFor('operator', [t.cluster.clientUrl(node)]), {
      name: 'test-watched',
    });
    metrics.watchNats(watched, 'test-watched');
    await t.cluster.restart(node);
    await waitFor(
      'the reconnect counted',
      async () =>
        sampleValue((await scrape()).e, 'cim_nats_reconnects_total', { connection: 'test-watched' }) === 1 || undefined,
    );
    await waitFor(
      'connected again',
      async () =>
        sampleValue((await scrape()).e, 'cim_nats_connected', { connection: 'test-watched' }) === 1 || undefined,
    );
  }, 60_000);
});

describe('logs of a real appliance', () => {
  it('are JSON lines with the correlation ids, and hold no payload value', () => {
    const records = logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records)
      expect(r).toMatchObject({ level: expect.any(String), time: expect.any(String), msg: expect.any(String) });
    expect(records.some((r) => typeof r.msg === 'string' && r.msg.startsWith('serving person'))).toBe(true);
    const handled = records.filter((r) => r.msg === 'command handled');
    const refused = records.filter((r) => r.msg === 'command refused');
    expect(handled.map((r) => r.correlationId)).toEqual(
      expect.arrayContaining([...Array(OK).keys()].map((i) => `corr-ok-${i}`)),
    );
    expect(refused.map((r) => r.correlationId).sort()).toEqual(
      [
        ...[...Array(REJECTED).keys()].map((i) => `corr-rej-${i}`),
        ...[...Array(INVALID).keys()].map((i) => `corr-bad-${i}`),
      ].sort(),
    );
    expect(refused[0]).toMatchObject({ level: 'info', domain: 'person', command: 'RegisterPerson' });
    const all = logLines.join('\n');
    expect(all).not.toMatch(/Secret Name|example\.org|metrics-person-|No email/);
    expect(all).not.toContain(ACTOR);
  });
});
