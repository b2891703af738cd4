// Queries as NATS services: each named query of a domain's projections answered from the read
// model on `<prefix>.<domain>.queries.<Query>`, in a queue group like the commands. A request is
// `{ "params": {...} }`; the reply `{ ok, result }` or `{ ok: false, error: { code, message } }`.
import type { NatsConnection, Service } from 'nats';
import { CimError, toCimError } from '../errors.js';
import { Subjects } from '../eventstore/index.js';
import type { Domain } from '../decider/define-domain.js';
import type { ReadModel } from '../projections/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function querySubject(prefix: string, domain: string, query: string): string {
  return `${prefix}.${domain}.queries.${query}`;
}

function parseParams(query: string, data: Uint8Array): unknown {
  if (data.length === 0) return {};
  try {
    return (JSON.parse(decoder.decode(data)) as { params?: unknown }).params ?? {};
  } catch {
    throw new CimError('CIM-INVALID-INPUT', `${query}: the request is not JSON`);
  }
}

/** The domain's queries as a service; undefined when its projections declare none. */
export async function startQueryService<S>(
  nc: NatsConnection,
  domain: Domain<S>,
  model: ReadModel,
  options: { subjects?: Subjects } = {},
): Promise<Service | undefined> {
  const subjects = options.subjects ?? new Subjects();
  const queries = (domain.definition.projections ?? []).flatMap((p) =>
    Object.keys(p.queries ?? {}).map((name) => ({ projection: p.name, name })),
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
        try {
          const result = model.query(q.projection, q.name, parseParams(q.name, msg.data));
          msg.respond(encoder.encode(JSON.stringify({ ok: true, result })));
        } catch (e) {
          const cim = toCimError(e);
          msg.respondError(
            cim.httpStatus,
            `${cim.code}: ${cim.message}`,
            encoder.encode(JSON.stringify({ ok: false, error: { code: cim.code, message: cim.message } })),
          );
        }
      },
    });
  }
  return service;
}
