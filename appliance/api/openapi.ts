// The HTTP API's OpenAPI 3.1 document, generated from the zod schemas the services validate with:
// each command's payload schema, each query's parameter schema, the reply and the error body. No
// second copy of a shape is written here, so the document cannot drift from what is enforced.
import { z } from 'zod';
import { CIM_ERROR_CODES } from '../errors.js';
import type { Domain } from '../decider/define-domain.js';
import { CommandRequestSchema, CommandResultSchema } from '../services/index.js';

/** The body of every error answer. */
export const ErrorBodySchema = z.object({
  code: z.enum(CIM_ERROR_CODES).describe('stable: callers branch on it'),
  message: z.string(),
  details: z.unknown().optional(),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

type JsonSchema = Record<string, unknown>;

/** A zod schema as the JSON Schema (2020-12, OpenAPI 3.1's dialect) of what a client sends. */
function jsonSchema(schema: z.ZodType): JsonSchema {
  const converted = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  // The dialect is the document's own; a `$schema` inside it is noise.
  delete converted.$schema;
  return converted;
}

const errorRef = { $ref: '#/components/schemas/Error' };
const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: errorRef } },
});

/** The statuses every authenticated route may answer with, besides its own. */
const commonErrors = {
  '400': errorResponse('invalid input (CIM-INVALID-INPUT)'),
  '401': errorResponse('no bearer token, or one that does not verify (CIM-UNAUTHENTICATED)'),
  '403': errorResponse("the key's role may not do this (CIM-FORBIDDEN)"),
  '404': errorResponse('unknown domain, command, query or aggregate (CIM-NOT-FOUND)'),
  '429': {
    ...errorResponse('over the rate limit of the key (CIM-RATE-LIMITED)'),
    headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'seconds until the window resets' } },
  },
  '503': errorResponse('NATS or the domain service is unavailable, or did not answer in time (CIM-UNAVAILABLE)'),
};

const rateLimitHeaders = {
  'X-RateLimit-Limit': { schema: { type: 'integer' }, description: 'requests the key may make per window' },
  'X-RateLimit-Remaining': { schema: { type: 'integer' }, description: 'requests left in this window' },
  'X-RateLimit-Reset': { schema: { type: 'integer' }, description: 'seconds until the window resets' },
};

const correlationHeader = {
  name: 'X-Correlation-Id',
  in: 'header',
  required: false,
  description: 'ties together everything one user action leads to; generated when absent, returned in the answer',
  schema: jsonSchema(CommandRequestSchema.shape.correlationId.unwrap()),
};

export interface OpenApiOptions {
  version: string;
  /** Whether `/metrics` is served beside the API. */
  metrics?: boolean;
  /** Whether `POST /v1/erasures/{subjectId}` is served (an appliance that encrypts personal data). */
  erasure?: boolean;
}

/** The answer of an erasure. */
export const ErasureResultSchema = z.object({
  subjectId: z.string(),
  outcome: z
    .enum(['erased', 'already-erased'])
    .describe('already-erased: the key was gone before; the rest was done again'),
  rowsDeleted: z.number().int(),
  snapshotsDeleted: z.array(z.string()),
});

export function openApiDocument(domains: readonly Domain<unknown>[], options: OpenApiOptions): JsonSchema {
  const paths: Record<string, unknown> = {
    '/healthz': { get: { summary: 'the process is up', security: [], responses: { '200': { description: 'up' } } } },
    '/readyz': {
      get: {
        summary: 'NATS connected, the domain streams there, every domain service answering',
        security: [],
        responses: { '200': { description: 'ready' }, '503': errorResponse('not ready (CIM-UNAVAILABLE)') },
      },
    },
    '/v1/openapi.json': {
      get: { summary: 'this document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } },
    },
  };
  if (options.metrics)
    paths['/metrics'] = {
      get: {
        summary: 'Prometheus metrics (text exposition format)',
        security: [],
        responses: { '200': { description: 'metrics', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    };

  if (options.erasure)
    paths['/v1/erasures/{subjectId}'] = {
      post: {
        operationId: 'erasure',
        tags: ['privacy'],
        summary:
          'erase a data subject by crypto-shredding (role operator): its key is destroyed, its read-model rows and snapshots deleted; its events stay, their personal data unreadable',
        parameters: [
          {
            name: 'subjectId',
            in: 'path',
            required: true,
            description: 'the aggregate id of the events with its personal data (a personId)',
            schema: { type: 'string', pattern: '^[A-Za-z0-9_=-]+$' },
          },
          correlationHeader,
        ],
        responses: {
          '200': {
            description: 'erased (or erased before)',
            headers: { ...rateLimitHeaders, 'X-Correlation-Id': { schema: { type: 'string' } } },
            content: { 'application/json': { schema: { $ref: '#/components/schemas/ErasureResult' } } },
          },
          ...commonErrors,
          '404': errorResponse('no personal data was ever stored for this subject (CIM-NOT-FOUND)'),
          '422': errorResponse('the subject may not be erased now (CIM-REJECTED)'),
        },
      },
    };

  for (const domain of domains) {
    for (const [name, command] of Object.entries(domain.definition.commands)) {
      paths[`/v1/commands/${domain.name}/${name}`] = {
        post: {
          operationId: `${domain.name}.${name}`,
          tags: [domain.name],
          summary: `the ${domain.name} command ${name} (roles operator, writer); the actor is the key's`,
          parameters: [correlationHeader],
          requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(command.schema) } } },
          responses: {
            '200': {
              description: 'accepted: the events it appended',
              headers: { ...rateLimitHeaders, 'X-Correlation-Id': { schema: { type: 'string' } } },
              content: { 'application/json': { schema: { $ref: '#/components/schemas/CommandResult' } } },
            },
            ...commonErrors,
            '409': errorResponse('the aggregate moved on and retries ran out (CIM-CONFLICT)'),
            '413': errorResponse('the body is over the size limit (CIM-TOO-LARGE)'),
            '415': errorResponse('the body is not application/json (CIM-UNSUPPORTED-MEDIA-TYPE)'),
            '422': errorResponse("the aggregate's current state refuses the command (CIM-REJECTED)"),
          },
        },
      };
    }
    for (const projection of domain.definition.projections ?? []) {
      for (const [name, query] of Object.entries(projection.queries ?? {})) {
        const params = jsonSchema(query.schema) as { properties?: Record<string, JsonSchema>; required?: string[] };
        paths[`/v1/queries/${domain.name}/${name}`] = {
          get: {
            operationId: `${domain.name}.${name}`,
            tags: [domain.name],
            summary: `the ${domain.name} query ${name} (roles operator, reader, auditor)`,
            parameters: Object.entries(params.properties ?? {}).map(([param, schema]) => ({
              name: param,
              in: 'query',
              required: params.required?.includes(param) ?? false,
              schema,
            })),
            responses: {
              '200': {
                description: query.one ? 'the row' : 'the rows',
                headers: rateLimitHeaders,
                content: {
                  'application/json': {
                    schema: {
                      type: 'object',
                      properties: {
                        result: query.one ? { type: 'object' } : { type: 'array', items: { type: 'object' } },
                      },
                      required: ['result'],
                    },
                  },
                },
              },
              ...commonErrors,
            },
          },
        };
      }
    }
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'CIM Appliance HTTP API',
      version: options.version,
      description: 'Commands and queries of the served domains, sent on to the domain services over NATS.',
    },
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'an API key from `cim keys add`' },
      },
      schemas: {
        CommandResult: jsonSchema(CommandResultSchema),
        Error: jsonSchema(ErrorBodySchema),
        ...(options.erasure ? { ErasureResult: jsonSchema(ErasureResultSchema) } : {}),
      },
    },
  };
}
