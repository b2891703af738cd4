// The `http` driver's operation against a stand-in gateway (node:http on loopback): what each kind
// of answer is recorded as — an acknowledgement with its CIDs, or an error by its CIM code as the
// NATS driver records it, refused or unknown by the same rules — and that the client keeps its
// connections alive and never opens more than it was given.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  gatewayClient,
  httpIssuer,
  judgeGatewayReply,
  PhaseRecorder,
  runSchedule,
  type CommandMix,
  type GeneratedCommand,
} from '../../bench/index.js';

let server: Server;
let url: string;
const sockets = new Set<unknown>();
const seen: { path: string; headers: IncomingMessage['headers']; body: string }[] = [];

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ path: req.url!, headers: req.headers, body });
      const id = req.headers['idempotency-key'];
      switch (req.url!.split('/').pop()) {
        case 'Ok':
          return answer(res, 200, { ok: true, commandId: id, aggregateId: 'a', events: [{ cid: `cid-${id}` }] });
        case 'OtherId':
          return answer(res, 200, { ok: true, commandId: 'someone-else', aggregateId: 'a', events: [] });
        case 'Rejected':
          return answer(res, 422, { code: 'CIM-REJECTED', message: 'no' });
        case 'Unauthenticated':
          return answer(res, 401, { code: 'CIM-UNAUTHENTICATED', message: 'who?' });
        case 'Limited':
          return answer(res, 429, { code: 'CIM-RATE-LIMITED', message: 'slow down' });
        case 'Unavailable':
          return answer(res, 503, { code: 'CIM-UNAVAILABLE', message: 'no service' });
        case 'Garbled':
          return res.writeHead(502).end('<html>bad gateway</html>');
        case 'Hang':
          return; // never answers
      }
    });
  });
  server.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A mix that always hands out the same command (the issuer needs only next and settle). */
function mixOf(command: string): CommandMix & { settled: boolean[] } {
  const settled: boolean[] = [];
  const generated: GeneratedCommand = { domain: 'person', command, aggregateId: 'a', payload: { personId: 'a' } };
  return { next: () => generated, settle: (_c: GeneratedCommand, ok: boolean) => settled.push(ok), settled } as never;
}

async function issueOnce(command: string, timeoutMs = 5_000, target = url) {
  const recorder = new PhaseRecorder('p');
  const client = gatewayClient({ url: target, token: 'cim_tok', connections: 2, timeoutMs });
  const mix = mixOf(command);
  try {
    await httpIssuer({ client, mix, recorder, clock: () => 10, correlationId: 'run-1', commandId: (i) => `c-${i}` })(
      5,
      0,
    );
  } finally {
    client.close();
  }
  const record = recorder.operations[0]!;
  recorder.destroy();
  return { record, errors: recorder.errorsByCode(), settled: mix.settled };
}

describe('the http issuer', () => {
  it('POSTs the command with the key, the run’s correlation id and the command id, and records the acknowledged CIDs', async () => {
    const { record, settled } = await issueOnce('Ok');
    expect(record).toMatchObject({
      id: 'c-0',
      label: 'person.Ok',
      outcome: 'ok',
      acked: ['cid-c-0'],
      startMs: 5,
      endMs: 10,
    });
    expect(settled).toEqual([true]);
    const request = seen.at(-1)!;
    expect(request.path).toBe('/v1/commands/person/Ok');
    expect(request.headers).toMatchObject({
      authorization: 'Bearer cim_tok',
      'content-type': 'application/json',
      'x-correlation-id': 'run-1',
      'idempotency-key': 'c-0',
    });
    expect(JSON.parse(request.body)).toEqual({ personId: 'a' });
  });

  it.each([
    ['Rejected', 'failed', 'CIM-REJECTED'],
    ['Unauthenticated', 'failed', 'CIM-UNAUTHENTICATED'],
    ['Limited', 'failed', 'CIM-RATE-LIMITED'],
    ['Unavailable', 'unknown', 'CIM-UNAVAILABLE'],
    ['Garbled', 'unknown', 'HTTP-502'],
    ['OtherId', 'unknown', 'HTTP-BAD-REPLY'],
  ])('records an answer %s as %s with code %s, by code', async (command, outcome, code) => {
    const { record, errors, settled } = await issueOnce(command);
    expect(record).toMatchObject({ outcome, errorCode: code, acked: [] });
    expect(errors).toEqual({ [code]: 1 });
    expect(settled).toEqual([false]);
  });

  it('records no answer in time as unknown (HTTP-TIMEOUT), a refused connection as failed (HTTP-REFUSED)', async () => {
    expect((await issueOnce('Hang', 200)).record).toMatchObject({ outcome: 'unknown', errorCode: 'HTTP-TIMEOUT' });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect((await issueOnce('Ok', 1_000, `http://127.0.0.1:${port}`)).record).toMatchObject({
      outcome: 'failed',
      errorCode: 'HTTP-REFUSED',
    });
  });

  it('keeps connections alive and opens no more than it was given, whatever the schedule’s concurrency', async () => {
    sockets.clear();
    const recorder = new PhaseRecorder('p');
    const client = gatewayClient({ url, token: 't', connections: 4 });
    const issue = httpIssuer({
      client,
      mix: mixOf('Ok'),
      recorder,
      clock: () => 0,
      correlationId: 'r',
      commandId: (i) => `k-${i}`,
    });
    await runSchedule({ rate: 'max', concurrency: 16, count: 200 }, issue);
    client.close();
    expect(recorder.ok).toBe(200);
    expect(sockets.size).toBeGreaterThan(0);
    expect(sockets.size).toBeLessThanOrEqual(4);
    recorder.destroy();
  });
});

describe('judgeGatewayReply', () => {
  it('given a 200 naming another command id or a CID that is not a string, it is no acknowledgement', () => {
    expect(judgeGatewayReply(200, { commandId: 'x', events: [{ cid: 'a' }] }, 'x')).toEqual({
      outcome: 'ok',
      acked: ['a'],
    });
    expect(judgeGatewayReply(200, { commandId: 'x', events: [{ cid: 3 }] }, 'x').outcome).toBe('unknown');
    expect(judgeGatewayReply(200, undefined, 'x')).toMatchObject({ outcome: 'unknown', errorCode: 'HTTP-200' });
  });

  it('given an error body, the refusals the NATS driver treats as not applied are failed, the rest unknown', () => {
    expect(judgeGatewayReply(409, { code: 'CIM-CONFLICT' }, 'x').outcome).toBe('failed');
    expect(judgeGatewayReply(400, { code: 'CIM-INVALID-INPUT' }, 'x').outcome).toBe('failed');
    expect(judgeGatewayReply(504, { code: 'NOT-CIM' }, 'x')).toMatchObject({
      outcome: 'unknown',
      errorCode: 'HTTP-504',
    });
    expect(judgeGatewayReply(408, undefined, 'x').outcome).toBe('unknown');
  });
});
