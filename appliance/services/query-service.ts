// Queries as NATS services: each named query of a domain's projections answered from the read
// model on `<prefix>.<domain>.queries.<Query>`, in a queue group like the commands. A request is
// `{ "params": {...} }`; the reply `{ ok, result }` or `{ ok: false, error: { code, message } }`.
import { randomUUID } from 'node:crypto';
import type { NatsConnection, Service, ServiceMsg } from 'nats';
import { commandOutcome, type AuditSink } from '../audit/index.js';
import { CimError, toCimError } from '../errors.js';
import { Subjects } from '../eventstore/index.js';
import { requestOrigin } from './request-origin.js';
import type { Domain } from '../decider/define-domain.js';
import type { ReadModel } from '../projections/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function querySubject(prefix: string, domain: string, query: string): string {
  return `${prefix}.${domain}.queries.${query}`;
}

interface QueryRequest {
  params?: unknown;
  /** Who asks (the HTTP gateway names its key's actor), for the audit log. */
  actor?: unknown;
  correlationId?: unknown;
}

function parseRequest(query: string, data: Uint8Array): QueryRequest {
  if (data.length === 0) return {};
  try {
    const body = JSON.parse(decoder.decode(data)) as unknown;
    return typeof body === 'object' && body !== null ? (body as QueryRequest) : {};
  } catch {
    throw new CimError('CIM-INVALID-INPUT', `${query}: the request is not JSON`);
  }
}

/** A short printable string from a request, or undefined. */
function plain(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 200 && !/[^\x20-\x7e]/.test(value)
    ? value
    : undefined;
}

/** The ids a query names, from its string parameters that look like ids: `person/ada`, `person/-` without. */
function queryTarget(domain: string, params: unknown): string {
  const ids =
    typeof params === 'object' && params !== null
      ? Object.values(params).filter((v): v is string => typeof v === 'string' && /^[A-Za-z0-9_=-]{1,200}$/.test(v))
      : [];
  return `${domain}/${ids.length > 0 ? ids.join(',') : '-'}`;
}

/** The domain's queries as a service; undefined when its projections declare none. */
export async function startQueryService<S>(
  nc: NatsConnection,
  domain: Domain<S>,
  model: ReadModel,
  options: {
    subjects?: Subjects;
    /** Where each answered request of a query that returns personal data is recorded, before its answer. */
    audit?: AuditSink;
  } = {},
): Promise<Service | undefined> {
  const subjects = options.subjects ?? new Subjects();
  const queries = (domain.definition.projections ?? []).flatMap((p) =>
    Object.entries(p.queries ?? {}).map(([name, q]) => ({
      projection: p.name,
      name,
      personalData: q.personalData === true,
    })),
  );
  if (queries.length === 0) return undefined;
  const service = await nc.services.add({
    name: `cim-${domain.name}-queries`,
    version: '0.1.0',
    description: `${domain.name} queries: ${queries.map((q) => q.name).join(', ')}`,
    queue: `cim-${domain.name}-queries`,
    metadata: { domain: domain.name },
  });
  for (const q of queries) {
    service.addEndpoint(q.name, {
      subject: querySubject(subjects.prefix, domain.name, q.name),
      metadata: { kind: 'query', projection: q.projection },
      handler: (error, msg) => {
        if (error) return;
        let request: QueryRequest = {};
        let answer: { ok: true; result: unknown } | { ok: false; error: CimError };
        try {
          request = parseRequest(q.name, msg.data);
          answer = { ok: true, result: model.query(q.projection, q.name, request.params ?? {}) };
        } catch (e) {
          answer = { ok: false, error: toCimError(e) };
        }
        const audit = q.personalData ? options.audit : undefined;
        if (!audit) return answerQuery(msg, answer);
        void audit
          .record({
            actor: plain(request.actor) ?? 'unknown',
            ...requestOrigin(msg.headers),
            action: `query.${domain.name}.${q.name}`,
            target: queryTarget(domain.name, request.params),
            outcome: answer.ok ? 'ok' : commandOutcome(answer.error.code),
            ...(answer.ok ? {} : { code: answer.error.code }),
            correlationId: plain(request.correlationId) ?? randomUUID(),
          })
          .then(
            () => answerQuery(msg, answer),
            // Personal data leaves only once its reading is on record.
            (e: unknown) =>
              answerQuery(msg, {
                ok: false,
                error: new CimError(
                  'CIM-UNAVAILABLE',
                  `${q.name}: its audit record could not be stored: ${toCimError(e).message}`,
                ),
              }),
          );
      },
    });
  }
  return service;
}

function answerQuery(msg: ServiceMsg, answer: { ok: true; result: unknown } | { ok: false; error: CimError }): void {
  if (answer.ok) {
    msg.respond(encoder.encode(JSON.stringify(answer)));
    return;
  }
  const cim = answer.error;
  msg.respondError(
    cim.httpStatus,
    `${cim.code}: ${cim.message}`,
    encoder.encode(JSON.stringify({ ok: false, error: { code: cim.code, message: cim.message } })),
  );
}
