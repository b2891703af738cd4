// A seeded fuzz of the HTTP gateway over real HTTP against real services on a real 3-node
// cluster: more than 10,000 malformed, oversized, wrong-typed, wrongly addressed and wrongly
// authenticated requests (and some bytes that are not HTTP at all). Nothing may answer 5xx but
// 503, every answer is a `{ code, message }` without a stack, the gateway keeps answering, and not
// one event is written.
import { connect as connectTcp } from 'node:net';
import { join } from 'node:path';
import type { NatsConnection, Service } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectNats,
  createApiKey,
  domainStream,
  EventStore,
  KeyRing,
  provision,
  ReadModel,
  referenceDomains,
  startCommandService,
  startQueryService,
  startGateway,
  type CommandServiceHandle,
  type GatewayHandle,
} from '../../appliance/index.js';
import { seededRandom } from '../support/random.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const REQUESTS = 10_500;
const IN_FLIGHT = 24;
const BODY_LIMIT = 4_096;

let t: TestCluster;
let gatewayNc: NatsConnection;
let gateway: GatewayHandle;
const services: CommandServiceHandle[] = [];
const queryServices: Service[] = [];
let model: ReadModel;
const tokens = { writer: '', reader: '', wrongSecret: '', unknownId: '' };
const domainNames = referenceDomains.map((d) => d.name);

beforeAll(async () => {
  t = await startTestCluster('gateway-fuzz', 3);
  await provision(t.nc, { domains: domainNames, replicas: 3, duplicateWindowMs: 120_000 });
  const store = await EventStore.open(t.nc);
  model = ReadModel.open({
    path: join(t.stateDir, 'read-models.sqlite'),
    projections: referenceDomains.flatMap((d) => d.definition.projections ?? []),
  });
  for (const domain of referenceDomains) {
    services.push(await startCommandService(t.nc, domain, { store }));
    const queries = await startQueryService(t.nc, domain, model);
    if (queries) queryServices.push(queries);
  }
  // A low scrypt cost: thousands of wrong secrets are verified on purpose here.
  const writer = await createApiKey('writer', 'fuzz-writer', 1_024);
  const reader = await createApiKey('reader', 'fuzz-reader', 1_024);
  tokens.writer = writer.token;
  tokens.reader = reader.token;
  tokens.wrongSecret = writer.token.slice(0, -4) + (writer.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  tokens.unknownId = `cim_000000000000_${writer.token.slice('cim_'.length + 12 + 1)}`;
  gatewayNc = await connectNats(t.cluster.endpointFor('gateway'), { name: 'test-gateway-fuzz' });
  gateway = await startGateway({
    nc: gatewayNc,
    listen: '127.0.0.1:0',
    domains: referenceDomains,
    keys: new KeyRing([writer.entry, reader.entry]),
    bodyLimit: BODY_LIMIT,
    timeoutMs: 5_000,
  });
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await gatewayNc?.close().catch(() => {});
  for (const s of services) await s.stop();
  for (const s of queryServices) await s.stop();
  model?.close();
  await t?.stop();
});

interface FuzzRequest {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

const random = seededRandom(0xf022);
const commands = referenceDomains.flatMap((d) => Object.keys(d.definition.commands).map((c) => [d.name, c] as const));
const queries = referenceDomains.flatMap((d) =>
  (d.definition.projections ?? []).flatMap((p) => Object.keys(p.queries ?? {}).map((q) => [d.name, q] as const)),
);

/** A payload that some valid command would almost take. */
function nearlyValid(): Record<string, unknown> {
  return {
    personId: 'p-fuzz',
    organizationId: 'o-fuzz',
    workflowId: 'w-fuzz',
    name: 'Fuzz',
    email: 'fuzz@example.org',
    definition: 'onboarding',
    subject: { domain: 'person', aggregateId: 'p-fuzz' },
    steps: ['a'],
    step: 'a',
    reason: 'r',
  };
}

/** A value no schema field of the reference domains takes: every field here is text, an object or a list of text. */
function wrongValue(): unknown {
  return random.pick([
    0,
    -1,
    1e308,
    true,
    null,
    [],
    [1, 2],
    {},
    { nested: { deeper: [null] } },
    'x'.repeat(random.int(201, 400)),
    `bad\u0000${random.text(5)}`,
    `esc\u001b[31m${random.text(5)}`,
    '\u202Eevil',
  ]);
}

/** Every field that makes the payload a command is broken or gone, so no request can be valid. */
function wrongTyped(): Record<string, unknown> {
  const payload = nearlyValid();
  for (const key of Object.keys(payload)) {
    if (random.next() < 0.3) delete payload[key];
    else payload[key] = wrongValue();
  }
  if (random.next() < 0.3) payload[random.text(8) || 'extra'] = random.text(20);
  return payload;
}

/** Random text, percent-encoded (the test alphabet's emoji can come out as half a surrogate pair). */
const urlText = (max: number) => encodeURIComponent(random.text(max).replace(/[\ud800-\udfff]/g, 'x'));

const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const json = { 'content-type': 'application/json' };

function generate(): FuzzRequest {
  const [domain, command] = random.pick(commands);
  const commandPath = `/v1/commands/${domain}/${command}`;
  switch (random.int(0, 11)) {
    case 0: {
      // JSON that does not parse: a prefix of an object, or one closed more often than it nests.
      const text = JSON.stringify(nearlyValid());
      const cut =
        text.slice(0, random.int(0, text.length - 2)) + random.pick(['', '{', ',', '"', '\\', ':', ']]]]', '}}}}']);
      return {
        kind: 'malformed-json',
        method: 'POST',
        path: commandPath,
        headers: { ...auth(tokens.writer), ...json },
        body: cut,
      };
    }
    case 1: {
      const bytes = new Uint8Array(random.int(1, 300)).map(() => random.int(0, 255));
      return {
        kind: 'random-bytes',
        method: 'POST',
        path: commandPath,
        headers: { ...auth(tokens.writer), ...json },
        body: bytes,
      };
    }
    case 2:
      return {
        kind: 'oversized',
        method: 'POST',
        path: commandPath,
        headers: { ...auth(tokens.writer), ...json },
        body: JSON.stringify({ ...nearlyValid(), name: 'x'.repeat(BODY_LIMIT + random.int(1, 20_000)) }),
      };
    case 3:
    case 4:
      return {
        kind: 'wrong-typed',
        method: 'POST',
        path: commandPath,
        headers: { ...auth(tokens.writer), ...json },
        body: JSON.stringify(random.next() < 0.1 ? random.pick([[], 1, 'text', null, true]) : wrongTyped()),
      };
    case 5:
      return {
        kind: 'wrong-auth',
        method: 'POST',
        path: commandPath,
        headers: {
          ...json,
          ...random.pick([
            {},
            { authorization: '' },
            { authorization: 'Bearer' },
            { authorization: `Basic ${tokens.writer}` },
            { authorization: `Bearer ${random.text(60)}`.replace(/[^\x21-\x7e ]/g, 'x') },
            auth(tokens.wrongSecret),
            auth(tokens.unknownId),
            auth(tokens.writer.toUpperCase()),
          ]),
        },
        body: JSON.stringify(nearlyValid()),
      };
    case 6:
      return {
        kind: 'wrong-role',
        method: 'POST',
        path: commandPath,
        headers: { ...auth(tokens.reader), ...json },
        body: JSON.stringify(nearlyValid()),
      };
    case 7:
      return {
        kind: 'wrong-media-type',
        method: 'POST',
        path: commandPath,
        headers: {
          ...auth(tokens.writer),
          ...random.pick<Record<string, string>>([
            {},
            { 'content-type': 'text/plain' },
            { 'content-type': 'application/x-www-form-urlencoded' },
            { 'content-type': 'multipart/form-data; boundary=x' },
            { 'content-type': 'application/xml' },
          ]),
        },
        body: random.next() < 0.8 ? JSON.stringify(nearlyValid()) : '',
      };
    case 8: {
      const path = random.pick([
        `/v1/commands/${urlText(10)}/${command}`,
        `/v1/commands/${domain}/${urlText(12)}`,
        `/v1/commands/${domain}/__proto__`,
        `/v1/commands/${domain}/constructor`,
        `/v1/commands/${domain}/${command}/extra`,
        `/v1/commands/..%2F..%2Fetc/passwd`,
        `/v1/${urlText(10)}`,
        `/${'a/'.repeat(random.int(1, 200))}`,
        `/v1/commands/%00/${command}`,
        `/v1/commands/${domain}/${command}?${urlText(30)}`,
      ]);
      return {
        kind: 'wrong-path',
        method: random.pick(['POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']),
        path,
        headers: { ...auth(tokens.writer), ...json },
        body: JSON.stringify(wrongTyped()),
      };
    }
    case 9: {
      const [qd, q] = random.pick(queries);
      const params = random.pick([
        `personId=${urlText(80)}`,
        'personId=a&personId=b',
        `organizationId=${'x'.repeat(100)}`,
        `workflowId=%00`,
        `${urlText(10)}=${urlText(10)}&workflowId=`,
        'personId[]=1',
      ]);
      return {
        kind: 'bad-query',
        method: 'GET',
        path: `/v1/queries/${qd}/${q}?${params}`,
        headers: random.next() < 0.5 ? auth(tokens.reader) : auth(tokens.writer),
      };
    }
    case 10:
      return {
        kind: 'bad-correlation-id',
        method: 'POST',
        path: commandPath,
        headers: {
          ...auth(tokens.writer),
          ...json,
          'x-correlation-id': random.pick(['', 'c'.repeat(random.int(201, 2_000)), 'a\tb']),
        },
        body: JSON.stringify(wrongTyped()),
      };
    default:
      return {
        kind: 'not-http',
        method: 'RAW',
        path: '',
        headers: {},
        body: random.pick([
          'GARBAGE\r\n\r\n',
          `POST /v1/commands/person/RegisterPerson HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n`,
          `POST ${commandPath} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nzz\r\n`,
          `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`,
          `GET / HTTP/9.9\r\n\r\n`,
          `\u0000\u0001\u0002\r\n\r\n`,
        ]),
      };
  }
}

interface Answer {
  status: number;
  text: string;
}

/** Bytes straight onto a socket, for what fetch refuses to send; resolves with the status line's code. */
function sendRaw(bytes: string): Promise<Answer> {
  const url = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const socket = connectTcp(Number(url.port), url.hostname);
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
      resolve({ status, text: received.slice(received.indexOf('\r\n\r\n') + 4) });
    });
    socket.setTimeout(10_000, () => socket.destroy());
    socket.end(bytes, 'latin1');
  });
}

async function send(request: FuzzRequest): Promise<Answer> {
  if (request.method === 'RAW') return sendRaw(request.body as string);
  const response = await fetch(`${gateway.url}${request.path}`, {
    method: request.method,
    headers: request.headers,
    ...(request.body !== undefined && !['GET', 'HEAD'].includes(request.method) ? { body: request.body } : {}),
  });
  return { status: response.status, text: await response.text() };
}

async function streamHeads(): Promise<Record<string, number>> {
  const jsm = await t.nc.jetstreamManager();
  const heads: Record<string, number> = {};
  for (const d of domainNames) heads[d] = (await jsm.streams.info(domainStream(d))).state.last_seq;
  return heads;
}

describe('HTTP gateway under a seeded fuzz', () => {
  it(`answers ${REQUESTS} bad requests without a 5xx but 503, without a stack, and writes no event`, async () => {
    const before = await streamHeads();
    const requests = Array.from({ length: REQUESTS }, generate);
    const byStatus = new Map<number, number>();
    const byKind = new Map<string, Set<number>>();
    const problems: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const request = requests[next++]!;
        const answer = await send(request);
        byStatus.set(answer.status, (byStatus.get(answer.status) ?? 0) + 1);
        if (!byKind.has(request.kind)) byKind.set(request.kind, new Set());
        byKind.get(request.kind)!.add(answer.status);
        const fine = answer.status >= 400 && answer.status < 500 ? true : answer.status === 503;
        if (!fine)
          problems.push(
            `${request.kind} ${request.method} ${request.path.slice(0, 80)}: ${answer.status} ${answer.text.slice(0, 120)}`,
          );
        if (request.method === 'HEAD' || answer.text === '') continue;
        let body: { code?: unknown; message?: unknown; stack?: unknown } = {};
        try {
          body = JSON.parse(answer.text) as typeof body;
        } catch {
          problems.push(`${request.kind}: not JSON: ${answer.text.slice(0, 80)}`);
        }
        if (typeof body.code !== 'string' || !body.code.startsWith('CIM-') || typeof body.message !== 'string')
          problems.push(`${request.kind}: not a CIM error: ${answer.text.slice(0, 120)}`);
        if ('stack' in body || /\bat .*\.(ts|js):\d+/.test(answer.text)) problems.push(`${request.kind}: a stack`);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));

    expect(problems.slice(0, 10)).toEqual([]);
    // Each kind met the refusal it is for.
    expect([...byKind.get('oversized')!]).toEqual([413]);
    expect([...byKind.get('wrong-auth')!]).toEqual([401]);
    expect([...byKind.get('wrong-role')!]).toEqual([403]);
    expect(byKind.get('wrong-typed')!.has(400)).toBe(true);
    expect([...byKind.get('malformed-json')!]).toEqual([400]);
    expect(byKind.get('wrong-media-type')!.has(415)).toBe(true);
    expect(byKind.get('wrong-path')!.has(404)).toBe(true);
    expect(byKind.get('bad-query')!.has(400)).toBe(true);
    // Every service was there: no answer was a 503.
    expect(byStatus.get(503)).toBeUndefined();
    expect(byKind.get('not-http')!.has(400)).toBe(true);
    expect([...byStatus.values()].reduce((a, b) => a + b, 0)).toBe(REQUESTS);
    // Still up and still ready, and nothing was written.
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
    expect(await streamHeads()).toEqual(before);
  }, 300_000);
});
