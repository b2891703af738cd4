// The HTTP gateway over real HTTP against real command and query services on a real 3-node
// cluster: every status it answers with, each with its CIM code and no stack; the actor of a
// command is the key's; and no rejected request writes an event.
import { join } from 'node:path';
import type { NatsConnection, Service } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectNats,
  createApiKey,
  domainStream,
  EventStore,
  KeyRing,
  Projector,
  provision,
  ReadModel,
  referenceDomains,
  startCommandService,
  startGateway,
  startQueryService,
  Subjects,
  type CommandServiceHandle,
  type GatewayHandle,
  type Role,
} from '../../appliance/index.js';
import { streamEvents } from '../support/stream-events.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait.js';

let t: TestCluster;
let gatewayNc: NatsConnection;
let gateway: GatewayHandle;
let store: EventStore;
let model: ReadModel;
const commandServices: CommandServiceHandle[] = [];
const queryServices: Service[] = [];
const projectors: Projector[] = [];
const tokens = {} as Record<Role, string>;
const actors: Record<Role, string> = {
  operator: 'ops-1',
  writer: 'writer-1',
  reader: 'reader-1',
  auditor: 'auditor-1',
};
const domainNames = referenceDomains.map((d) => d.name);

beforeAll(async () => {
  t = await startTestCluster('gateway', 3);
  await provision(t.nc, { domains: domainNames, replicas: 3, duplicateWindowMs: 120_000 });
  const projections = referenceDomains.flatMap((d) => d.definition.projections ?? []);
  model = ReadModel.open({ path: join(t.stateDir, 'read-models.sqlite'), projections });
  for (const projection of projections) projectors.push(Projector.start({ nc: t.nc, model, projection }));
  store = await EventStore.open(t.nc);
  for (const domain of referenceDomains) {
    // No retry after a conflict, so the test can make one happen on purpose.
    commandServices.push(await startCommandService(t.nc, domain, { store, conflictRetries: 0 }));
    const queries = await startQueryService(t.nc, domain, model);
    if (queries) queryServices.push(queries);
  }
  const entries = [];
  for (const role of ['operator', 'writer', 'reader', 'auditor'] as const) {
    const { token, entry } = await createApiKey(role, actors[role]);
    tokens[role] = token;
    entries.push(entry);
  }
  gatewayNc = await connectNats(t.cluster.endpointFor('gateway'), { name: 'test-gateway' });
  gateway = await startGateway({
    nc: gatewayNc,
    listen: '127.0.0.1:0',
    domains: referenceDomains,
    keys: new KeyRing(entries),
    bodyLimit: 4_096,
  });
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await gatewayNc?.close().catch(() => {});
  for (const s of commandServices) await s.stop();
  for (const s of queryServices) await s.stop();
  for (const p of projectors) await p.stop();
  model?.close();
  await t?.stop();
});

interface Sent {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(
  method: 'GET' | 'POST',
  path: string,
  options: { role?: Role; token?: string; body?: string; json?: unknown; headers?: Record<string, string> } = {},
): Promise<Sent> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token ?? (options.role ? tokens[options.role] : undefined);
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${gateway.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

/** An error answer: the status, the code, a message and nothing that looks like a stack. */
function expectError(sent: Sent, status: number, code: string): void {
  expect({ status: sent.status, code: sent.body.code }).toEqual({ status, code });
  expect(typeof sent.body.message).toBe('string');
  expect(Object.keys(sent.body).sort()).toEqual(expect.arrayContaining(['code', 'message']));
  expect(JSON.stringify(sent.body)).not.toMatch(/\bat .*\.(ts|js):\d+/);
  expect(sent.body).not.toHaveProperty('stack');
}

/** The last stream sequence of every domain stream: what "no event written" is checked against. */
async function streamHeads(): Promise<Record<string, number>> {
  const jsm = await t.nc.jetstreamManager();
  const heads: Record<string, number> = {};
  for (const d of domainNames) heads[d] = (await jsm.streams.info(domainStream(d))).state.last_seq;
  return heads;
}

describe('HTTP gateway', () => {
  it('answers /healthz and, with NATS connected and the streams there, /readyz', async () => {
    expect(await call('GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await call('GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
  });

  it('given a writer key, a command is accepted, its events named, the correlation id returned, the actor the key’s', async () => {
    const sent = await call('POST', '/v1/commands/person/RegisterPerson', {
      role: 'writer',
      json: { personId: 'p-http-1', name: 'Ada', email: 'ada@example.org' },
      headers: { 'x-correlation-id': 'corr-http-1' },
    });
    expect(sent.status).toBe(200);
    expect(sent.headers.get('x-correlation-id')).toBe('corr-http-1');
    expect(sent.body).toMatchObject({ aggregateId: 'p-http-1', events: [{ type: 'PersonRegistered', seq: 1 }] });
    const [stored] = (await streamEvents(t.nc, 'person')).filter((e) => e.aggregateId === 'p-http-1');
    expect(stored).toMatchObject({ actor: 'writer-1', correlationId: 'corr-http-1', type: 'PersonRegistered' });
  });

  it('without an X-Correlation-Id, one is generated and returned', async () => {
    const sent = await call('POST', '/v1/commands/person/RegisterPerson', {
      role: 'operator',
      json: { personId: 'p-http-2', name: 'Grace', email: 'grace@example.org' },
    });
    expect(sent.status).toBe(200);
    const id = sent.headers.get('x-correlation-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const [stored] = (await streamEvents(t.nc, 'person')).filter((e) => e.aggregateId === 'p-http-2');
    expect(stored).toMatchObject({ actor: 'ops-1', correlationId: id });
  });

  it('an Idempotency-Key is the command id: the reply names it and its event is caused by it', async () => {
    const payload = { personId: 'p-http-3', name: 'Edsger', email: 'edsger@example.org' };
    const sent = await call('POST', '/v1/commands/person/RegisterPerson', {
      role: 'writer',
      json: payload,
      headers: { 'idempotency-key': 'http-idem-1' },
    });
    expect(sent).toMatchObject({ status: 200, body: { commandId: 'http-idem-1', aggregateId: 'p-http-3' } });
    const stored = (await streamEvents(t.nc, 'person')).filter((e) => e.aggregateId === 'p-http-3');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ causationId: 'http-idem-1' });
  });

  it('given a reader or auditor key, a query answers from the read model', async () => {
    for (const role of ['reader', 'auditor', 'operator'] as const) {
      // Generous: on a loaded machine a projection's ordered consumer can stall until the client
      // notices missed heartbeats and recreates it (about 30 s); this test is about the gateway.
      const sent = await waitFor(
        'the projection to hold p-http-1',
        async () => {
          const s = await call('GET', '/v1/queries/person/GetPerson?personId=p-http-1', { role });
          return s.status === 200 ? s : undefined;
        },
        90_000,
      );
      expect(sent.body).toEqual({
        result: { personId: 'p-http-1', name: 'Ada', email: 'ada@example.org', status: 'active' },
      });
    }
  });

  describe('rejected requests, each with its status and code, and none writes an event', () => {
    let before: Record<string, number>;
    beforeAll(async () => {
      // A member to add to, so "unknown person" is the only thing wrong with the 404 below.
      const created = await call('POST', '/v1/commands/organization/CreateOrganization', {
        role: 'writer',
        json: { organizationId: 'o-http-1', name: 'Org' },
      });
      expect(created.status).toBe(200);
      before = await streamHeads();
    });
    afterAll(async () => {
      expect(await streamHeads()).toEqual(before);
    });

    const register = { personId: 'p-http-9', name: 'Nobody', email: 'nobody@example.org' };
    const path = '/v1/commands/person/RegisterPerson';

    it('400: a payload the command schema refuses, JSON that does not parse, a bad correlation id, a repeated or unknown query parameter', async () => {
      expectError(await call('POST', path, { role: 'writer', json: { personId: 'p-x' } }), 400, 'CIM-INVALID-INPUT');
      expectError(await call('POST', path, { role: 'writer', json: [1, 2] }), 400, 'CIM-INVALID-INPUT');
      expectError(
        await call('POST', path, {
          role: 'writer',
          body: '{"personId": ',
          headers: { 'content-type': 'application/json' },
        }),
        400,
        'CIM-INVALID-INPUT',
      );
      expectError(
        await call('POST', path, { role: 'writer', body: '', headers: { 'content-type': 'application/json' } }),
        400,
        'CIM-INVALID-INPUT',
      );
      expectError(
        await call('POST', path, {
          role: 'writer',
          body: '{"__proto__": {"x": 1}}',
          headers: { 'content-type': 'application/json' },
        }),
        400,
        'CIM-INVALID-INPUT',
      );
      expectError(
        await call('POST', path, { role: 'writer', json: register, headers: { 'x-correlation-id': 'c'.repeat(201) } }),
        400,
        'CIM-INVALID-INPUT',
      );
      expectError(
        await call('POST', path, { role: 'writer', json: register, headers: { 'idempotency-key': 'k'.repeat(201) } }),
        400,
        'CIM-INVALID-INPUT',
      );
      expectError(
        await call('GET', '/v1/queries/person/GetPerson?personId=a&personId=b', { role: 'reader' }),
        400,
        'CIM-INVALID-INPUT',
      );
      expectError(
        await call('GET', '/v1/queries/person/GetPerson?personId=', { role: 'reader' }),
        400,
        'CIM-INVALID-INPUT',
      );
      // A parameter the query does not take is refused, not dropped.
      expectError(
        await call('GET', '/v1/queries/person/CountPeople?status=archived', { role: 'reader' }),
        400,
        'CIM-INVALID-INPUT',
      );
    });

    it('401: no bearer token, a malformed one, one with a wrong secret, another scheme', async () => {
      const noToken = await call('POST', path, { json: register });
      expectError(noToken, 401, 'CIM-UNAUTHENTICATED');
      expect(noToken.headers.get('www-authenticate')).toBe('Bearer');
      expectError(await call('POST', path, { token: 'nope', json: register }), 401, 'CIM-UNAUTHENTICATED');
      const wrong = tokens.writer.slice(0, -1) + (tokens.writer.endsWith('A') ? 'B' : 'A');
      expectError(await call('POST', path, { token: wrong, json: register }), 401, 'CIM-UNAUTHENTICATED');
      expectError(
        await call('POST', path, { json: register, headers: { authorization: `Basic ${tokens.writer}` } }),
        401,
        'CIM-UNAUTHENTICATED',
      );
      expectError(await call('GET', '/v1/queries/person/CountPeople'), 401, 'CIM-UNAUTHENTICATED');
    });

    it('403: a reader or auditor sending a command, a writer asking a query', async () => {
      expectError(await call('POST', path, { role: 'reader', json: register }), 403, 'CIM-FORBIDDEN');
      expectError(await call('POST', path, { role: 'auditor', json: register }), 403, 'CIM-FORBIDDEN');
      expectError(await call('GET', '/v1/queries/person/CountPeople', { role: 'writer' }), 403, 'CIM-FORBIDDEN');
    });

    it('404: an unknown domain, command, query, route, or aggregate', async () => {
      expectError(
        await call('POST', '/v1/commands/nosuch/RegisterPerson', { role: 'writer', json: register }),
        404,
        'CIM-NOT-FOUND',
      );
      expectError(
        await call('POST', '/v1/commands/person/NoSuch', { role: 'writer', json: register }),
        404,
        'CIM-NOT-FOUND',
      );
      expectError(
        await call('POST', '/v1/commands/person/constructor', { role: 'writer', json: register }),
        404,
        'CIM-NOT-FOUND',
      );
      expectError(await call('GET', '/v1/queries/person/NoSuch', { role: 'reader' }), 404, 'CIM-NOT-FOUND');
      expectError(await call('GET', '/v1/queries/nosuch/GetPerson', { role: 'reader' }), 404, 'CIM-NOT-FOUND');
      expectError(await call('GET', '/v2/anything'), 404, 'CIM-NOT-FOUND');
      expectError(
        await call('GET', '/v1/queries/person/GetPerson?personId=p-nobody', { role: 'reader' }),
        404,
        'CIM-NOT-FOUND',
      );
      expectError(
        await call('POST', '/v1/commands/organization/AddMember', {
          role: 'writer',
          json: { organizationId: 'o-http-1', personId: 'p-nobody' },
        }),
        404,
        'CIM-NOT-FOUND',
      );
    });

    it('413: a body over the limit; 415: a body that is not JSON or none at all', async () => {
      const big = { ...register, name: 'x'.repeat(5_000) };
      expectError(await call('POST', path, { role: 'writer', json: big }), 413, 'CIM-TOO-LARGE');
      expectError(
        await call('POST', path, {
          role: 'writer',
          body: JSON.stringify(register),
          headers: { 'content-type': 'text/plain' },
        }),
        415,
        'CIM-UNSUPPORTED-MEDIA-TYPE',
      );
      expectError(
        await call('POST', path, {
          role: 'writer',
          body: 'a=b',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
        415,
        'CIM-UNSUPPORTED-MEDIA-TYPE',
      );
      expectError(await call('POST', path, { role: 'writer' }), 415, 'CIM-UNSUPPORTED-MEDIA-TYPE');
    });

    it('422: a command the aggregate’s state refuses', async () => {
      expectError(
        await call('POST', path, {
          role: 'writer',
          json: { personId: 'p-http-1', name: 'Again', email: 'again@example.org' },
        }),
        422,
        'CIM-REJECTED',
      );
    });
  });

  it('409: the aggregate moved on under the service and it may not retry; that command writes nothing', async () => {
    const rename = (name: string) =>
      call('POST', '/v1/commands/person/RenamePerson', { role: 'writer', json: { personId: 'p-http-2', name } });
    expect((await rename('Grace H')).status).toBe(200); // the service now holds p-http-2 in its cache
    const ref = { domain: 'person', aggregate: 'Person', aggregateId: 'p-http-2' };
    const head = await store.head(ref);
    await store.append(
      ref,
      head,
      [
        {
          type: 'PersonRenamed',
          typeVersion: 1,
          payload: { personId: 'p-http-2', name: 'Side' },
          at: new Date().toISOString(),
        },
      ],
      {
        actor: 'side-writer',
        correlationId: 'side',
        causationId: 'side',
      },
    );
    const before = await streamHeads();
    expectError(await rename('Grace Hopper'), 409, 'CIM-CONFLICT');
    expect(await streamHeads()).toEqual(before);
  });

  it('503: with NATS gone, commands, queries and /readyz say unavailable; /healthz still answers', async () => {
    const nc = await connectNats(t.cluster.endpointFor('gateway'), { name: 'test-gateway-closed' });
    const { token, entry } = await createApiKey('operator', 'ops-2');
    const lonely = await startGateway({
      nc,
      listen: '127.0.0.1:0',
      domains: referenceDomains,
      keys: new KeyRing([entry]),
    });
    try {
      await nc.close();
      const at = async (method: 'GET' | 'POST', path: string, json?: unknown) => {
        const response = await fetch(`${lonely.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(json ? { 'content-type': 'application/json' } : {}) },
          ...(json ? { body: JSON.stringify(json) } : {}),
        });
        return {
          status: response.status,
          headers: response.headers,
          body: (await response.json()) as Record<string, unknown>,
        };
      };
      const before = await streamHeads();
      expectError(
        await at('POST', '/v1/commands/person/RegisterPerson', {
          personId: 'p-http-3',
          name: 'N',
          email: 'n@example.org',
        }),
        503,
        'CIM-UNAVAILABLE',
      );
      expectError(await at('GET', '/v1/queries/person/CountPeople'), 503, 'CIM-UNAVAILABLE');
      expectError(await at('GET', '/readyz'), 503, 'CIM-UNAVAILABLE');
      expect((await at('GET', '/healthz')).status).toBe(200);
      expect(await streamHeads()).toEqual(before);
    } finally {
      await lonely.stop();
    }
  });

  it('503: a served domain whose service does not answer (no responders)', async () => {
    const { token, entry } = await createApiKey('operator', 'ops-3');
    const nc = await connectNats(t.cluster.endpointFor('gateway'), { name: 'test-gateway-prefix' });
    // Another prefix: no service listens there.
    const elsewhere = await startGateway({
      nc,
      listen: '127.0.0.1:0',
      domains: referenceDomains,
      keys: new KeyRing([entry]),
      subjects: new Subjects('nobody'),
      timeoutMs: 2_000,
    });
    try {
      const response = await fetch(`${elsewhere.url}/v1/commands/person/RegisterPerson`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ personId: 'p-http-4', name: 'N', email: 'n@example.org' }),
      });
      expect(response.status).toBe(503);
      expect(((await response.json()) as { code: string }).code).toBe('CIM-UNAVAILABLE');
    } finally {
      await elsewhere.stop();
      await nc.close();
    }
  });

  it('429: a key over its rate limit, with Retry-After; every answer says the limit and what remains; other keys keep theirs', async () => {
    const reader = await createApiKey('reader', 'reader-limited');
    const auditor = await createApiKey('auditor', 'auditor-limited');
    const limited = await startGateway({
      nc: gatewayNc,
      listen: '127.0.0.1:0',
      domains: referenceDomains,
      keys: new KeyRing([reader.entry, auditor.entry]),
      rateLimit: { max: 3, windowMs: 60_000 },
    });
    try {
      const ask = async (token: string) => {
        const response = await fetch(`${limited.url}/v1/queries/person/CountPeople`, {
          headers: { authorization: `Bearer ${token}` },
        });
        return {
          status: response.status,
          headers: response.headers,
          body: (await response.json()) as Record<string, unknown>,
        };
      };
      // An unauthenticated request is refused before it is counted against anyone.
      expect((await ask('cim_nope')).status).toBe(401);
      const remaining: (string | null)[] = [];
      for (let i = 0; i < 3; i++) {
        const ok = await ask(reader.token);
        expect(ok.status).toBe(200);
        expect(ok.headers.get('x-ratelimit-limit')).toBe('3');
        remaining.push(ok.headers.get('x-ratelimit-remaining'));
      }
      expect(remaining).toEqual(['2', '1', '0']);
      const over = await ask(reader.token);
      expectError(over, 429, 'CIM-RATE-LIMITED');
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(over.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      expect((await ask(auditor.token)).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });

  it('429: an address that keeps presenting bad keys is refused before its next key is checked, with Retry-After', async () => {
    const writer = await createApiKey('writer', 'writer-guessed');
    const guarded = await startGateway({
      nc: gatewayNc,
      listen: '127.0.0.1:0',
      domains: referenceDomains,
      keys: new KeyRing([writer.entry]),
      rateLimit: { max: 3, windowMs: 60_000 },
    });
    try {
      const ask = async (token: string) => {
        const response = await fetch(`${guarded.url}/v1/queries/person/CountPeople`, {
          headers: { authorization: `Bearer ${token}` },
        });
        return {
          status: response.status,
          headers: response.headers,
          body: (await response.json()) as Record<string, unknown>,
        };
      };
      const wrong = writer.token.slice(0, -1) + (writer.token.endsWith('A') ? 'B' : 'A');
      for (let i = 0; i < 3; i++) expectError(await ask(wrong), 401, 'CIM-UNAUTHENTICATED');
      const blocked = await ask(writer.token);
      expectError(blocked, 429, 'CIM-RATE-LIMITED');
      expect(blocked.body.message).toMatch(/failed authentications/);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await guarded.stop();
    }
  });

  it('/readyz is 503 while a served domain has its stream but no command service answers', async () => {
    const stopped = commandServices.find((s) => s.service.info().name === 'cim-workflow')!;
    await stopped.stop();
    try {
      const ready = await call('GET', '/readyz');
      expectError(ready, 503, 'CIM-UNAVAILABLE');
      expect(ready.body.message).toMatch(/no command service answers for workflow/);
    } finally {
      const workflow = referenceDomains.find((d) => d.name === 'workflow')!;
      commandServices.splice(commandServices.indexOf(stopped), 1, await startCommandService(t.nc, workflow, { store }));
    }
    expect((await call('GET', '/readyz')).status).toBe(200);
  });

  it('/v1/openapi.json (no key needed) documents every command and query from the schemas the services enforce', async () => {
    const doc = await call('GET', '/v1/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    const paths = doc.body.paths as Record<string, Record<string, Record<string, unknown>>>;
    const operationIds: string[] = [];
    const before = await streamHeads();
    for (const domain of referenceDomains) {
      for (const [name, command] of Object.entries(domain.definition.commands)) {
        const post = paths[`/v1/commands/${domain.name}/${name}`]?.post;
        expect(post, `${domain.name} ${name}`).toBeDefined();
        operationIds.push(post!.operationId as string);
        const schema = (post!.requestBody as { content: Record<string, { schema: Record<string, unknown> }> }).content[
          'application/json'
        ]!.schema;
        expect(schema.required).toEqual(
          Object.entries(
            (command.schema as unknown as { shape: Record<string, { safeParse(v: unknown): { success: boolean } }> })
              .shape,
          )
            .filter(([, field]) => !field.safeParse(undefined).success)
            .map(([key]) => key),
        );
        // What the document says is required, the service requires: an empty payload is refused.
        expectError(
          await call('POST', `/v1/commands/${domain.name}/${name}`, { role: 'writer', json: {} }),
          400,
          'CIM-INVALID-INPUT',
        );
      }
      for (const projection of domain.definition.projections ?? [])
        for (const name of Object.keys(projection.queries ?? {})) {
          const get = paths[`/v1/queries/${domain.name}/${name}`]?.get;
          expect(get, `${domain.name} ${name}`).toBeDefined();
          operationIds.push(get!.operationId as string);
        }
    }
    expect(new Set(operationIds).size).toBe(operationIds.length);
    // Every reference in the document resolves.
    const refs = [...JSON.stringify(doc.body).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]!);
    const schemas = (doc.body.components as { schemas: Record<string, unknown> }).schemas;
    for (const ref of new Set(refs)) expect(schemas, ref).toHaveProperty(ref);
    expect(await streamHeads()).toEqual(before);
  });
});
