// The HTTP gateway: commands and queries over HTTP, sent on to the domain services over NATS with
// the same protocol NATS clients use, behind API keys with roles. Every error leaves as
// `{ code, message, details? }` with the status its CIM code maps to (errors.ts), never a stack.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import type { NatsConnection } from 'nats';
import { CimError, firstIssue, isCimErrorCode } from '../errors.js';
import { escapeUnsafe } from '../text.js';
import type { Domain } from '../decider/define-domain.js';
import { domainStream, Subjects } from '../eventstore/index.js';
import { CommandRequestSchema, isUnanswered, originHeaders, sendCommand, querySubject } from '../services/index.js';
import type { AuditSink } from '../audit/index.js';
import type { ApiKeyIdentity, KeyRing, Role } from './api-keys.js';
import { noteErrorCode, requestTraceContext, traceHttpRequests } from '../telemetry/http-tracing.js';
import { AuthFailures } from './auth-failures.js';
import { openApiDocument, type ErrorBody } from './openapi.js';
import { formatAddress, parseListen } from './listen.js';
import type { ErasureRequest, ErasureResult } from '../privacy/index.js';

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
  /**
   * Requests each key may make per window (commands and queries together); more are answered 429
   * with `Retry-After`. Every answer carries `X-RateLimit-Limit`, `-Remaining` and `-Reset`. The
   * same budget bounds failed authentications per client address. Unset: no limit (the load
   * driver's gateway).
   */
  rateLimit?: RateLimit;
  /** Serves `GET /metrics` (no key needed, as for /healthz) and is told about every request answered. */
  metrics?: GatewayMetrics;
  /**
   * Erases a data subject where the read model is owned (appliance/serve.ts gives it): serves
   * `POST /v1/erasures/:subjectId`, role `operator` only. Without it there is no such route.
   */
  erase?: (request: ErasureRequest) => Promise<ErasureResult>;
  /**
   * The gateway's own audit writer: its denials (401, 403) and the command requests it answers
   * without a service (a body that is no JSON, an unknown command, no service answering), each
   * recorded before the answer is sent. The services record the requests they answer.
   */
  audit?: AuditSink;
}

export interface RateLimit {
  max: number;
  windowMs: number;
}

/** What the gateway needs of the metrics (an ApplianceMetrics from appliance/telemetry is one). */
export interface GatewayMetrics {
  readonly contentType: string;
  render(): Promise<string>;
  /** `route` is the route's template, undefined when none matched: never the raw URL. */
  observeHttp?(route: string | undefined, method: string, status: number, seconds: number): void;
}

export interface GatewayHandle {
  /** Where it listens, e.g. `127.0.0.1:38211`. */
  readonly address: string;
  readonly url: string;
  stop(): Promise<void>;
}

/** Roles allowed each kind of request. */
const allowed: Record<'command' | 'query' | 'erasure', readonly Role[]> = {
  command: ['operator', 'writer'],
  query: ['operator', 'reader', 'auditor'],
  erasure: ['operator'],
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const correlationIdSchema = CommandRequestSchema.shape.correlationId.unwrap();
const commandIdSchema = CommandRequestSchema.shape.commandId.unwrap();

/** The appliance's version, from the nearest package.json above this module (sources or dist/). */
function applianceVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // Not at this level: dist/ is one deeper than the sources.
    }
  }
  return 'unknown';
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

/** The CIM code each request was answered with, for the audit record of an answer the gateway gave itself. */
const answeredWith = new WeakMap<FastifyRequest, string>();

function send(reply: FastifyReply, error: CimError, details?: unknown): FastifyReply {
  answeredWith.set(reply.request, error.code);
  const body: ErrorBody = {
    code: error.code,
    // An internal error's message may hold anything (paths, input): the client gets none of it.
    message: error.code === 'CIM-INTERNAL' ? 'internal error' : error.message,
  };
  if (details !== undefined) body.details = details;
  noteErrorCode(reply, error.code);
  return reply.code(error.httpStatus).type('application/json').send(body);
}

/** A header checked with `schema`: its value, undefined when it is absent, or the error naming it. */
function optionalHeader(
  request: FastifyRequest,
  name: string,
  schema: typeof correlationIdSchema,
): string | undefined | CimError {
  const value = request.headers[name.toLowerCase()];
  if (value === undefined) return undefined;
  const parsed = schema.safeParse(value);
  return parsed.success
    ? parsed.data
    : new CimError('CIM-INVALID-INPUT', `${name}: ${firstIssue(parsed.error, 'header')}`);
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

/** A name from the URL as an audit action names it: as it is when it is a plain name, else `?`. */
const urlName = (name: string | undefined) => (name !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(name) ? name : '?');

/** The request's correlation id: its valid X-Correlation-Id, else a new one (the same for the request's every use). */
const correlations = new WeakMap<FastifyRequest, string>();
function correlationOf(request: FastifyRequest): string {
  let id = correlations.get(request);
  if (id === undefined) {
    const header = optionalHeader(request, 'X-Correlation-Id', correlationIdSchema);
    id = typeof header === 'string' ? header : randomUUID();
    correlations.set(request, id);
  }
  return id;
}

export async function startGateway(options: GatewayOptions): Promise<GatewayHandle> {
  const { nc, keys } = options;
  const { host, port } = parseListen(options.listen);
  const subjects = options.subjects ?? new Subjects();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const domains = new Map(options.domains.map((d) => [d.name, d]));
  /** Each domain's queries: whether one answers one row, and the parameters it takes. */
  const queries = new Map<string, { one: boolean; params: ReadonlySet<string> }>();
  for (const d of options.domains)
    for (const p of d.definition.projections ?? [])
      for (const [name, q] of Object.entries(p.queries ?? {}))
        queries.set(`${d.name}\0${name}`, {
          one: !!q.one,
          params: new Set(Object.keys((q.schema as { shape?: object }).shape ?? {})),
        });

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

  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? 65_536,
    return503OnClosing: true,
    // Bytes that are not HTTP never reach a route: answer them in the same shape as every error.
    clientErrorHandler: (error, socket) => {
      if (!socket.writable) return socket.destroy();
      const tooLarge = (error as NodeJS.ErrnoException).code === 'HPE_HEADER_OVERFLOW';
      const status = tooLarge ? 431 : 400;
      const body = JSON.stringify({
        code: 'CIM-INVALID-INPUT',
        message: tooLarge ? 'the request headers are too large' : 'the request is not valid HTTP',
      });
      socket.end(
        `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
          `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    },
  });
  // Only JSON bodies: fastify would otherwise take text/plain as a string payload.
  app.removeContentTypeParser('text/plain');
  traceHttpRequests(app);

  if (options.rateLimit) {
    // Counted per key after authentication (the route's own onRequest hook runs first), in memory:
    // each gateway counts for itself.
    await app.register(rateLimit, {
      global: false,
      hook: 'onRequest',
      max: options.rateLimit.max,
      timeWindow: options.rateLimit.windowMs,
      keyGenerator: (request) => request.identity?.keyId ?? request.ip,
      errorResponseBuilder: (_request, context) =>
        new CimError(
          'CIM-RATE-LIMITED',
          `more than ${context.max} requests in ${options.rateLimit!.windowMs} ms for this key; retry in ${context.after}`,
        ),
    });
  }
  const limited = options.rateLimit ? { rateLimit: {} } : {};

  app.setErrorHandler((error: FastifyError, _request, reply) => send(reply, fromFastify(error)));
  app.setNotFoundHandler((request, reply) =>
    send(reply, new CimError('CIM-NOT-FOUND', escapeUnsafe(`no route ${request.method} ${request.url.split('?')[0]}`))),
  );

  /** Keys refused for their role: the denial's record names the key's actor. */
  const forbidden = new WeakMap<FastifyRequest, ApiKeyIdentity>();
  /** Authentication and the role check, before the body is read: a stranger's body is never parsed. */
  const failures = options.rateLimit ? new AuthFailures(options.rateLimit.max, options.rateLimit.windowMs) : undefined;
  const guard = (kind: 'command' | 'query' | 'erasure') => async (request: FastifyRequest, reply: FastifyReply) => {
    const token = bearer(request);
    const wait = failures?.retryAfter(request.ip) ?? 0;
    if (wait > 0) {
      void reply.header('retry-after', String(wait));
      return send(
        reply,
        new CimError('CIM-RATE-LIMITED', `too many failed authentications from this address; retry in ${wait} s`),
      );
    }
    const identity = token === undefined ? undefined : await keys.verify(token);
    if (!identity) {
      failures?.record(request.ip);
      void reply.header('www-authenticate', 'Bearer');
      return send(
        reply,
        new CimError('CIM-UNAUTHENTICATED', token === undefined ? 'no bearer token' : 'the bearer token is not valid'),
      );
    }
    if (!allowed[kind].includes(identity.role)) {
      forbidden.set(request, identity);
      return send(reply, new CimError('CIM-FORBIDDEN', `role ${identity.role} may not send ${kind}s`));
    }
    request.identity = identity;
    return undefined;
  };

  /** Requests a service answered (it recorded them): the gateway records only the rest. */
  const forwarded = new WeakSet<FastifyRequest>();
  const audit = options.audit;
  /**
   * Records, before the answer leaves, what the gateway decided itself: a denial (401, 403) of any
   * request, and any other answer to a command request that no service gave, so every command
   * request has one record. A record that cannot be stored turns the answer into a 503.
   */
  const audited =
    (kind: 'command' | 'query') => async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      if (!audit || forwarded.has(request) || reply.statusCode < 400) return payload;
      const code = answeredWith.get(request) ?? 'CIM-INTERNAL';
      const denied = code === 'CIM-UNAUTHENTICATED' || code === 'CIM-FORBIDDEN';
      if (!denied && kind === 'query') return payload;
      const { domain, command, query } = request.params as { domain?: string; command?: string; query?: string };
      const identity = request.identity ?? (code === 'CIM-FORBIDDEN' ? forbidden.get(request) : undefined);
      const correlationId = correlationOf(request);
      if (!reply.hasHeader('x-correlation-id')) void reply.header('x-correlation-id', correlationId);
      try {
        await audit.record({
          // Never the key presented: an unknown caller is anonymous.
          actor: identity?.actor ?? 'anonymous',
          role: identity?.role ?? 'none',
          source: 'http',
          action: `${kind}.${urlName(domain)}.${urlName(kind === 'command' ? command : query)}`,
          target: `${urlName(domain)}/-`,
          outcome: denied ? 'denied' : code === 'CIM-UNAVAILABLE' || code === 'CIM-INTERNAL' ? 'failed' : 'rejected',
          code,
          correlationId,
        });
        return payload;
      } catch (error) {
        const cim = new CimError(
          'CIM-UNAVAILABLE',
          `the audit record of this request could not be stored: ${(error as Error).message}`,
        );
        void reply.code(cim.httpStatus).type('application/json');
        return JSON.stringify({ code: cim.code, message: cim.message });
      }
    };

  app.get('/healthz', async () => ({ status: 'ok' }));

  // Made once: the served domains do not change while the gateway runs.
  const openApi = JSON.stringify(
    openApiDocument(options.domains, {
      version: applianceVersion(),
      metrics: !!options.metrics,
      erasure: !!options.erase,
    }),
  );
  app.get('/v1/openapi.json', async (_request, reply) => reply.type('application/json').send(openApi));
  const metrics = options.metrics;
  if (metrics) {
    app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));
    if (metrics.observeHttp)
      app.addHook('onResponse', async (request, reply) =>
        metrics.observeHttp!(request.routeOptions.url, request.method, reply.statusCode, reply.elapsedTime / 1000),
      );
  }

  app.get('/readyz', async (_request, reply) => {
    if (nc.isClosed()) return send(reply, new CimError('CIM-UNAVAILABLE', 'not connected to NATS'));
    const wait = Math.min(timeoutMs, 5_000);
    const names = [...domains.keys()];
    try {
      const jsm = await nc.jetstreamManager({ timeout: wait });
      for (const name of names) await jsm.streams.info(domainStream(name));
    } catch (error) {
      return send(reply, new CimError('CIM-UNAVAILABLE', `not ready: ${(error as Error).message}`));
    }
    // A service answers the micro protocol's PING: one instance answering per domain is enough.
    const silent: string[] = [];
    await Promise.all(
      names.map(async (name) => {
        try {
          await nc.request(`$SRV.PING.cim-${name}`, undefined, { timeout: wait });
        } catch {
          silent.push(name);
        }
      }),
    );
    if (silent.length > 0)
      return send(
        reply,
        new CimError('CIM-UNAVAILABLE', `not ready: no command service answers for ${silent.sort().join(', ')}`),
      );
    return { status: 'ready' };
  });

  app.post<{ Params: { domain: string; command: string } }>(
    '/v1/commands/:domain/:command',
    { onRequest: guard('command'), onSend: audited('command'), config: limited },
    async (request, reply) => {
      const { domain, command } = request.params;
      const served = domains.get(domain);
      if (!served) return send(reply, new CimError('CIM-NOT-FOUND', escapeUnsafe(`no domain ${domain}`)));
      if (!Object.hasOwn(served.definition.commands, command))
        return send(reply, new CimError('CIM-NOT-FOUND', escapeUnsafe(`domain ${domain} has no command ${command}`)));
      // No content type and no body reaches here with body undefined.
      if (request.body === undefined)
        return send(reply, new CimError('CIM-UNSUPPORTED-MEDIA-TYPE', 'send the payload as application/json'));
      const correlation = optionalHeader(request, 'X-Correlation-Id', correlationIdSchema);
      if (correlation instanceof CimError) return send(reply, correlation);
      const correlationId = correlationOf(request);
      // The client's Idempotency-Key is the command id, which the command log keeps from being applied twice.
      const commandId = optionalHeader(request, 'Idempotency-Key', commandIdSchema);
      if (commandId instanceof CimError) return send(reply, commandId);
      void reply.header('x-correlation-id', correlationId);
      try {
        const traceContext = requestTraceContext(request);
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
            { timeoutMs, subjects, traceContext, origin: { source: 'http', role: request.identity!.role } },
          ),
        );
        forwarded.add(request);
        return result;
      } catch (error) {
        if (!isUnanswered(error)) forwarded.add(request); // a service answered, and recorded it
        return send(reply, error instanceof CimError ? error : new CimError('CIM-INTERNAL', 'internal error'));
      }
    },
  );

  app.get<{ Params: { domain: string; query: string }; Querystring: Record<string, unknown> }>(
    '/v1/queries/:domain/:query',
    { onRequest: guard('query'), onSend: audited('query'), config: limited },
    async (request, reply) => {
      const { domain, query } = request.params;
      if (!domains.has(domain)) return send(reply, new CimError('CIM-NOT-FOUND', escapeUnsafe(`no domain ${domain}`)));
      const known = queries.get(`${domain}\0${query}`);
      if (!known)
        return send(reply, new CimError('CIM-NOT-FOUND', escapeUnsafe(`domain ${domain} has no query ${query}`)));
      const params = request.query;
      for (const [name, value] of Object.entries(params)) {
        // A parameter the query does not take would be dropped silently: the caller meant something else.
        if (!known.params.has(name))
          return send(
            reply,
            new CimError('CIM-INVALID-INPUT', escapeUnsafe(`${domain} ${query} takes no query parameter ${name}`)),
          );
        if (typeof value !== 'string')
          return send(
            reply,
            new CimError('CIM-INVALID-INPUT', escapeUnsafe(`query parameter ${name} is given more than once`)),
          );
      }
      let data: Uint8Array;
      try {
        // The actor and correlation id for the audit record of a query that returns personal data.
        const body = { params, actor: request.identity!.actor, correlationId: correlationOf(request) };
        const msg = await nc.request(
          querySubject(subjects.prefix, domain, query),
          encoder.encode(JSON.stringify(body)),
          {
            timeout: timeoutMs,
            headers: originHeaders({ source: 'http', role: request.identity!.role }),
          },
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

  const erase = options.erase;
  if (erase)
    app.post<{ Params: { subjectId: string } }>(
      '/v1/erasures/:subjectId',
      { onRequest: guard('erasure'), config: limited },
      async (request, reply) => {
        const correlation = optionalHeader(request, 'X-Correlation-Id', correlationIdSchema);
        if (correlation instanceof CimError) return send(reply, correlation);
        const correlationId = correlation ?? randomUUID();
        void reply.header('x-correlation-id', correlationId);
        try {
          return await erase({
            subjectId: request.params.subjectId,
            actor: request.identity!.actor,
            role: request.identity!.role,
            source: 'http',
            correlationId,
          });
        } catch (error) {
          return send(reply, error instanceof CimError ? error : new CimError('CIM-INTERNAL', 'internal error'));
        }
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
  const address = formatAddress(app.server.address(), options.listen);
  return { address, url: `http://${address}`, stop: () => app.close() };
}
