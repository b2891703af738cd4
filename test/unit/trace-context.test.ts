// W3C trace context in NATS headers: read whatever the case of the header's name, written only
// for a valid span context; no tracer while no SDK is registered; and startTracing exporting
// over OTLP (HTTP, protobuf) to a real local endpoint when the environment names one.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, ROOT_CONTEXT, trace, type SpanContext, TraceFlags } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { headers } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import {
  activeTracer,
  contextFromHeaders,
  injectContext,
  natsHeaderGetter,
  otlpConfigured,
  startTracing,
} from '../../appliance/index.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';
const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;

afterEach(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});

describe('the NATS header getter', () => {
  it.each(['traceparent', 'Traceparent', 'TRACEPARENT', 'TraceParent'])('finds a header named %s', (name) => {
    const h = headers();
    h.set('Cim-Cid', 'bafy');
    h.set(name, TRACEPARENT);
    expect(natsHeaderGetter.get(h, 'traceparent')).toBe(TRACEPARENT);
    expect(natsHeaderGetter.keys(h)).toContain(name);
  });

  it('answers undefined for a header that is not there, and for no headers at all', () => {
    const h = headers();
    h.set('Cim-Cid', 'bafy');
    expect(natsHeaderGetter.get(h, 'traceparent')).toBeUndefined();
    expect(natsHeaderGetter.get(undefined, 'traceparent')).toBeUndefined();
    expect(natsHeaderGetter.keys(undefined)).toEqual([]);
  });

  it('lets the W3C propagator extract a context from an upper-case header', () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const h = headers();
    h.set('TRACEPARENT', TRACEPARENT);
    h.set('Tracestate', 'vendor=1');
    const spanContext = trace.getSpanContext(contextFromHeaders(h));
    expect(spanContext).toMatchObject({ traceId: TRACE_ID, spanId: SPAN_ID, isRemote: true });
    expect(spanContext?.traceState?.get('vendor')).toBe('1');
    expect(trace.getSpanContext(contextFromHeaders(undefined))).toBeUndefined();
  });
});

describe('injecting a context', () => {
  const valid: SpanContext = { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED };

  it('allocates no headers for a context without a valid span', () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    expect(injectContext(ROOT_CONTEXT)).toBeUndefined();
    const invalid = trace.setSpanContext(ROOT_CONTEXT, { ...valid, traceId: '0'.repeat(32) });
    expect(injectContext(invalid)).toBeUndefined();
  });

  it('writes traceparent and tracestate for a valid one, into headers given or new ones', () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const ctx = trace.setSpanContext(ROOT_CONTEXT, valid);
    expect(injectContext(ctx)?.get('traceparent')).toBe(TRACEPARENT);
    const given = headers();
    given.set('Cim-Cid', 'bafy');
    expect(injectContext(ctx, given)).toBe(given);
    expect(given.get('traceparent')).toBe(TRACEPARENT);
  });
});

describe('startTracing', () => {
  it('loads nothing and traces nothing without an OTLP endpoint', async () => {
    expect(otlpConfigured({})).toBe(false);
    expect(otlpConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(otlpConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://x:4318/v1/traces' })).toBe(true);
    const stop = await startTracing({ serviceName: 'test', env: {} });
    expect(activeTracer()).toBeUndefined();
    await stop();
  });

  it('exports spans over OTLP/HTTP protobuf to the endpoint the environment names', async () => {
    const received: { url?: string; type?: string; bytes: number; body: Buffer }[] = [];
    const server = createServer((request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        received.push({ url: request.url, type: request.headers['content-type'], bytes: body.length, body });
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const stop = await startTracing({
        serviceName: 'cim-test-service',
        env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces` },
      });
      const tracer = activeTracer();
      expect(tracer).toBeDefined();
      tracer!.startSpan('send cim.person.commands.RegisterPerson').end();
      await stop(); // flushes
      expect(activeTracer()).toBeUndefined();
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({ url: '/v1/traces', type: 'application/x-protobuf' });
      // Protobuf carries strings as they are: the span's name and the service's are in the body.
      expect(received[0]!.body.includes('send cim.person.commands.RegisterPerson')).toBe(true);
      expect(received[0]!.body.includes('cim-test-service')).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
