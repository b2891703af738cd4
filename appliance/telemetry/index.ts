// Telemetry: the public surface of appliance/telemetry.
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
