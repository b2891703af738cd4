// A SERVER span per HTTP request of the gateway (OpenTelemetry HTTP conventions): named by method
// and route template (`POST /v1/commands/{domain}/{command}`), never by the URL; continuing an
// incoming `traceparent`; the parent of the command the request sends on over NATS. The query
// string is left out of `url.path`, and an error answer names its CIM code, nothing more.
import { propagation, ROOT_CONTEXT, SpanKind, trace, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { activeTracer } from './trace-context.js';
import { Attr, failSpan } from './tracing.js';

const requests = new WeakMap<FastifyRequest, { context: Context; span: Span }>();
const errorCodes = new WeakMap<FastifyRequest, string>();

/** `/v1/commands/:domain/:command` as `/v1/commands/{domain}/{command}` (the form the OpenAPI paths have). */
function routeTemplate(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** Adds the hooks that trace every request (a no-op per request while no SDK is registered). */
export function traceHttpRequests(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const tracer = activeTracer();
    if (tracer) {
      const parent = propagation.extract(ROOT_CONTEXT, request.headers);
      const url = request.routeOptions.url;
      const route = url === undefined ? undefined : routeTemplate(url);
      const span = tracer.startSpan(
        route === undefined ? request.method : `${request.method} ${route}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': request.method,
            'url.path': request.url.split('?')[0],
            'url.scheme': 'http',
            ...(route === undefined ? {} : { 'http.route': route }),
          },
        },
        parent,
      );
      requests.set(request, { context: trace.setSpan(parent, span), span });
    }
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const traced = requests.get(request);
    if (traced) {
      requests.delete(request);
      const { span } = traced;
      span.setAttribute('http.response.status_code', reply.statusCode);
      const code = errorCodes.get(request);
      // By the HTTP conventions a server span fails on a 5xx only; a 4xx is the client's error.
      if (reply.statusCode >= 500) failSpan(span, code ?? String(reply.statusCode));
      else if (code !== undefined) span.setAttribute(Attr.errorType, code);
      span.end();
    }
    done();
  });
}

/** The context of the request's span (parent of the command it sends on), when it has one. */
export function requestTraceContext(request: FastifyRequest): Context | undefined {
  return requests.get(request)?.context;
}

/** Notes the CIM code a request is answered with, for its span. */
export function noteErrorCode(reply: FastifyReply, code: string): void {
  if (requests.has(reply.request)) errorCodes.set(reply.request, code);
}
