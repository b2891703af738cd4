// The HTTP gateway: commands and queries over HTTP, sent on to the domain services over NATS with
// the same protocol NATS clients use, behind API keys with roles. Every error leaves as
// `{ code, message, details? }` with the status its CIM code maps to (errors.ts), never a stack.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import type { NatsConnection } from 'nats';
import { CimError, firstIssue, isCimErrorCode, type CimErrorCode } from '../errors.js';
import type { Domain } from '../decider/define-domain.js';
import { domainStream, Subjects } from '../eventstore/index.js';
import { CommandRequestSchema, sendCommand, querySubject } from '../services/index.js';
import type { ApiKeyIdentity, KeyRing, Role } from './api-keys.js';

export interface GatewayOptions {
  nc: NatsConnection;
  /** `HOST:PORT`; port 0 picks a free one (the handle says which). */
  listen: string;
  /** The domains served: a name outside them is a 404 without asking NATS. */
  domains: readonly Domain<unknown>[];
  keys: KeyRing;
  subjects?: Subjects;
  /** Largest request body in bytes (default 64 KiB). */
  bodyLimit?: number;
  /** How long a command or query may take over NATS before the answer is 503 (default 10 s). */
  timeoutMs?: number;
}

export interface GatewayHandle {
  /** Where it listens, e.g. `127.0.0.1:38211`. */
  readonly address: string;
  readonly url: string;
  stop(): Promise<void>;
}

/** Roles allowed each kind of request. */
const allowed: Record<'command' | 'query', readonly Role[]> = {
  command: ['operator', 'writer'],
  query: ['operator', 'reader', 'auditor'],
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const correlationIdSchema = CommandRequestSchema.shape.correlationId.unwrap();
const commandIdSchema = CommandRequestSchema.shape.commandId.unwrap();

interface ErrorBody {
  code: CimErrorCode;
  message: string;
  details?: unknown;
}

function parseListen(listen: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(listen);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65_535)
    throw new CimError('CIM-INVALID-CONFIG', `http listen address ${JSON.stringify(listen)} is not HOST:PORT`);
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** Fastify's own errors (parsing, limits) as the CIM error they are; anything unknown is internal. */
function fromFastify(error: FastifyError): CimError {
  if (error instanceof CimError) return error;
  const status = error.statusCode ?? 500;
  if (status === 413) return new CimError('CIM-TOO-LARGE', 'the request body is larger than allowed');
  if (status === 415) return new CimError('CIM-UNSUPPORTED-MEDIA-TYPE', 'send the body as application/json');
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
    return new CimError('CIM-INVALID-INPUT', 'the request body is not valid JSON');
  if (status >= 400 && status < 500) return new CimError('CIM-INVALID-INPUT', 'the request is malformed');
  return new CimError('CIM-INTERNAL', 'internal error');
}

function send(reply: FastifyReply, error: CimError, details?: unknown): FastifyReply {
  const body: ErrorBody = {
    code: error.code,
    // An internal error's message may hold anything (paths, input): the client gets none of it.
    message: error.code === 'CIM-INTERNAL' ? 'internal error' : error.message,
  };
  if (details !== undefined) body.details = details;
  return reply.code(error.httpStatus).type('application/json').send(body);
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer +(\S+)$/i.exec(header);
  return match?.[1];
}

declare module 'fastify' {
  interface FastifyRequest {
    identity?: ApiKeyIdentity;
  }
}

export async function startGateway(options: GatewayOptions): Promise<GatewayHandle> {
  const { nc, keys } = options;
  const { host, port } = parseListen(options.listen);
  const subjects = options.subjects ?? new Subjects();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const domains = new Map(options.domains.map((d) => [d.name, d]));
  /** The projection each domain's query belongs to, and whether it answers one row. */
  const queries = new Map<string, { one: boolean }>();
  for (const d of options.domains)
    for (const p of d.definition.projections ?? [])
      for (const [name, q] of Object.entries(p.queries ?? {})) queries.set(`${d.name}\0${name}`, { one: !!q.one });

  // Command requests that arrived in one turn of the event loop go out together, so the NATS client
  // writes them in one flush: each HTTP request is read in a callback of its own, after which the
  // client would flush it alone, a write (and a wake-up of the server) per command.
  const waiting: (() => void)[] = [];
  const together = <T>(send: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (waiting.push(() => void send().then(resolve, reject)) === 1)
        setImmediate(() => {
          for (const run of waiting.splice(0)) run();
        });
    });

  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? 65_536, return503OnClosing: true });
  // Only JSON bodies: fastify would otherwise take text/plain as a string payload.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((error: FastifyError, _request, reply) => send(reply, fromFastify(error)));
  app.setNotFoundHandler((request, reply) =>
    send(reply, new CimError('CIM-NOT-FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  /** Authentication and the role check, before the body is read: a stranger's body is never parsed. */
  const guard = (kind: 'command' | 'query') => async (request: FastifyRequest, reply: FastifyReply) => {
    const token = bearer(request);
    const identity = token === undefined ? undefined : await keys.verify(token);
    if (!identity) {
      void reply.header('www-authenticate', 'Bearer');
      return send(
        reply,
        new CimError('CIM-UNAUTHENTICATED', token === undefined ? 'no bearer token' : 'the bearer token is not valid'),
      );
    }
    if (!allowed[kind].includes(identity.role))
      return send(reply, new CimError('CIM-FORBIDDEN', `role ${identity.role} may not send ${kind}s`));
    request.identity = identity;
    return undefined;
  };

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (nc.isClosed()) return send(reply, new CimError('CIM-UNAVAILABLE', 'not connected to NATS'));
    try {
      const jsm = await nc.jetstreamManager({ timeout: Math.min(timeoutMs, 5_000) });
      for (const name of domains.keys()) await jsm.streams.info(domainStream(name));
    } catch (error) {
      return send(reply, new CimError('CIM-UNAVAILABLE', `not ready: ${(error as Error).message}`));
    }
    return { status: 'ready' };
  });

  app.post<{ Params: { domain: string; command: string } }>(
    '/v1/commands/:domain/:command',
    { onRequest: guard('command') },
    async (request, reply) => {
      const { domain, command } = request.params;
      const served = domains.get(domain);
      if (!served) return send(reply, new CimError('CIM-NOT-FOUND', `no domain ${domain}`));
      if (!Object.hasOwn(served.definition.commands, command))
        return send(reply, new CimError('CIM-NOT-FOUND', `domain ${domain} has no command ${command}`));
      // No content type and no body reaches here with body undefined.
      if (request.body === undefined)
        return send(reply, new CimError('CIM-UNSUPPORTED-MEDIA-TYPE', 'send the payload as application/json'));
      const header = request.headers['x-correlation-id'];
      let correlationId: string = randomUUID();
      if (header !== undefined) {
        const parsed = correlationIdSchema.safeParse(header);
        if (!parsed.success)
          return send(
            reply,
            new CimError('CIM-INVALID-INPUT', `X-Correlation-Id: ${firstIssue(parsed.error, 'header')}`),
          );
        correlationId = parsed.data;
      }
      // The client's Idempotency-Key is the command id, which the command log keeps from being applied twice.
      const key = request.headers['idempotency-key'];
      let commandId: string | undefined;
      if (key !== undefined) {
        const parsed = commandIdSchema.safeParse(key);
        if (!parsed.success)
          return send(
            reply,
            new CimError('CIM-INVALID-INPUT', `Idempotency-Key: ${firstIssue(parsed.error, 'header')}`),
          );
        commandId = parsed.data;
      }
      void reply.header('x-correlation-id', correlationId);
      try {
        const result = await together(() =>
          sendCommand(
            nc,
            domain,
            command,
            // The actor is the key's, never the client's.
            {
              payload: request.body,
              actor: request.identity!.actor,
              correlationId,
              ...(commandId ? { commandId } : {}),
            },
            { timeoutMs, subjects },
          ),
        );
        return result;
      } catch (error) {
        return send(reply, error instanceof CimError ? error : new CimError('CIM-INTERNAL', 'internal error'));
      }
    },
  );

  app.get<{ Params: { domain: string; query: string }; Querystring: Record<string, unknown> }>(
    '/v1/queries/:domain/:query',
    { onRequest: guard('query') },
    async (request, reply) => {
      const { domain, query } = request.params;
      if (!domains.has(domain)) return send(reply, new CimError('CIM-NOT-FOUND', `no domain ${domain}`));
      const known = queries.get(`${domain}\0${query}`);
      if (!known) return send(reply, new CimError('CIM-NOT-FOUND', `domain ${domain} has no query ${query}`));
      const params = request.query;
      for (const [name, value] of Object.entries(params))
        if (typeof value !== 'string')
          return send(reply, new CimError('CIM-INVALID-INPUT', `query parameter ${name} is given more than once`));
      let data: Uint8Array;
      try {
        const msg = await nc.request(
          querySubject(subjects.prefix, domain, query),
          encoder.encode(JSON.stringify({ params })),
          { timeout: timeoutMs },
        );
        data = msg.data;
      } catch (error) {
        return send(reply, new CimError('CIM-UNAVAILABLE', `${domain} ${query}: ${(error as Error).message}`));
      }
      let answer: { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };
      try {
        answer = JSON.parse(decoder.decode(data)) as typeof answer;
      } catch {
        return send(reply, new CimError('CIM-INTERNAL', 'internal error'));
      }
      if (!answer.ok)
        return send(
          reply,
          new CimError(isCimErrorCode(answer.error.code) ? answer.error.code : 'CIM-INTERNAL', answer.error.message),
        );
      // A query for one row that found none names something that does not exist.
      if (known.one && answer.result === null)
        return send(reply, new CimError('CIM-NOT-FOUND', `${domain} ${query}: nothing matches`));
      return { result: answer.result };
    },
  );

  try {
    await app.listen({ host, port });
  } catch (error) {
    await app.close().catch(() => {});
    throw new CimError('CIM-UNAVAILABLE', `cannot listen on ${options.listen}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const bound = app.server.address();
  const address =
    bound && typeof bound === 'object'
      ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`
      : options.listen;
  return { address, url: `http://${address}`, stop: () => app.close() };
}
