// Turning tracing on: the OpenTelemetry trace SDK with the OTLP exporter (HTTP, protobuf), loaded
// only when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (or an
// exporter is passed in, as the benchmark does); otherwise nothing is loaded and the API stays a
// no-op. Only the W3C trace context propagates: baggage could carry anything a client put in it,
// and event headers are kept for good.
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

export interface TracingOptions {
  /** `service.name`, unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) says otherwise. */
  serviceName: string;
  env?: Record<string, string | undefined>;
  /** Export here instead of OTLP (whatever the environment says). */
  exporter?: SpanExporter;
  /**
   * Sample every span (`1`), or this share of new traces and what their parents sampled.
   * Default: OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, else every new trace and what the parent sampled.
   */
  sample?: number;
}

/** Stops tracing: flushes what is buffered, then unregisters the SDK. */
export type StopTracing = () => Promise<void>;

/** Whether the environment asks for OTLP export of traces. */
export function otlpConfigured(env: Record<string, string | undefined> = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return false;
  return !!(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
}

/** Where traces go: the traces endpoint as given, or the general one with `/v1/traces` appended (as the OTLP spec says). */
function tracesUrl(env: Record<string, string | undefined>): string | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
}

/**
 * Registers the SDK globally when tracing is asked for, and returns how to stop it (a no-op when
 * it was not). The OTLP exporter reads its endpoint, headers and timeout from the standard
 * OTEL_EXPORTER_OTLP_* variables, the batch processor its limits from OTEL_BSP_*, the sampler
 * OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (unless `sample` is given).
 */
export async function startTracing(options: TracingOptions): Promise<StopTracing> {
  const env = options.env ?? process.env;
  if (!options.exporter && !otlpConfigured(env)) return async () => {};
  const [base, resources, { W3CTraceContextPropagator }, { trace, context, propagation }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
    import('@opentelemetry/api'),
  ]);
  const exporter =
    options.exporter ??
    new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter({ url: tracesUrl(env) });
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': options.serviceName }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new base.BasicTracerProvider({
    resource,
    ...(options.sample === undefined
      ? {}
      : {
          sampler:
            options.sample >= 1
              ? new base.AlwaysOnSampler()
              : new base.ParentBasedSampler({ root: new base.TraceIdRatioBasedSampler(options.sample) }),
        }),
    spanProcessors: [new base.BatchSpanProcessor(exporter)],
  });
  // No context manager: the appliance hands each span's context on itself (to the spans and
  // requests it causes), and an AsyncLocalStorage one would tax every promise in the process
  // (about a fifth of the command throughput, measured with the tracing benchmark).
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return async () => {
    try {
      await provider.shutdown();
    } finally {
      trace.disable();
      context.disable();
      propagation.disable();
    }
  };
}

/**
 * An exporter that drops every span (telling `counted` how many it got): the SDK's whole cost
 * without a collector's, for the tracing benchmark.
 */
export function discardingExporter(counted?: (spans: number) => void): SpanExporter {
  return {
    export(spans, done) {
      counted?.(spans.length);
      done({ code: 0 }); // ExportResultCode.SUCCESS
    },
    shutdown: async () => {},
  };
}
