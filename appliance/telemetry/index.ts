// Telemetry: the public surface of appliance/telemetry.
export {
  ApplianceMetrics,
  CachedSample,
  LATENCY_BUCKETS,
  type MetricsOptions,
  type ProjectionLag,
  type SealSeen,
} from './metrics.js';
export { startMetricsServer, type MetricsServerHandle, type MetricsSource } from './metrics-server.js';
export { projectionLag } from './projection-lag.js';
export {
  createLogger,
  errorFields,
  isClientError,
  otelTraceContext,
  resolveLogFormat,
  type ApplianceLogger,
  type LogFormat,
  type LoggerOptions,
  type LogLevel,
  type TraceContext,
} from './logger.js';
export {
  activeTracer,
  contextFromHeaders,
  injectContext,
  natsHeaderGetter,
  natsHeaderSetter,
  TRACER_NAME,
} from './trace-context.js';
export { Attr, eventSubjectPattern } from './tracing.js';
export { discardingExporter, otlpConfigured, startTracing, type StopTracing, type TracingOptions } from './otel-sdk.js';
