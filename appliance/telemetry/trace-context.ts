// W3C trace context (`traceparent`, `tracestate`) in NATS message headers, and whether anything
// traces at all: with no OpenTelemetry SDK registered, the instrumented paths skip every span,
// header and context so tracing costs nothing when it is off.
import {
  context,
  isSpanContextValid,
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  trace,
  type Context,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { headers as natsHeaders, type MsgHdrs } from 'nats';

/** The instrumentation scope of every span the appliance makes. */
export const TRACER_NAME = 'cim-appliance';

// What the API's global provider delegates to before any SDK registered one: the API has no
// other way to tell that nothing traces.
const NO_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();

/** The tracer to make spans with, or undefined when no SDK is registered (every span would be a no-op). */
export function activeTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  if (provider instanceof ProxyTracerProvider && provider.getDelegate() === NO_PROVIDER) return undefined;
  return provider.getTracer(TRACER_NAME);
}

/**
 * Reads NATS headers by name regardless of case: the W3C propagator asks for `traceparent`, and
 * another client (or a proxy) may have written `Traceparent` or `TRACEPARENT`. The first value
 * of the first matching header wins.
 */
export const natsHeaderGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys(carrier) {
    return carrier ? carrier.keys() : [];
  },
  get(carrier, key) {
    if (!carrier) return undefined;
    const wanted = key.toLowerCase();
    for (const name of carrier.keys()) {
      if (name.toLowerCase() !== wanted) continue;
      const [first] = carrier.values(name);
      if (first !== undefined) return first;
    }
    return undefined;
  },
};

export const natsHeaderSetter: TextMapSetter<MsgHdrs> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

/** The context a message's headers carry (the parent of the span that handles it); the root context if none. */
export function contextFromHeaders(carrier: MsgHdrs | undefined): Context {
  return carrier ? propagation.extract(ROOT_CONTEXT, carrier, natsHeaderGetter) : ROOT_CONTEXT;
}

/**
 * Writes the trace context of `ctx` into `carrier` (made when not given). Nothing is allocated or
 * written when `ctx` holds no valid span context: undefined comes back for a carrier not given.
 * An unsampled context is propagated too: the sampling decision has to travel with the trace.
 */
export function injectContext(ctx: Context, carrier?: MsgHdrs): MsgHdrs | undefined {
  const spanContext = trace.getSpan(ctx)?.spanContext();
  if (!spanContext || !isSpanContextValid(spanContext)) return carrier;
  const target = carrier ?? natsHeaders();
  propagation.inject(ctx, target, natsHeaderSetter);
  return target;
}

/** The active context, or, when no span is active in it, the one a `traceparent` header value names. */
export function contextOr(traceparent: string | undefined): Context {
  const active = context.active();
  if (traceparent === undefined || trace.getSpan(active)) return active;
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}
