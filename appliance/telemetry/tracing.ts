// The appliance's spans, named and attributed by the OpenTelemetry messaging and HTTP conventions
// (docs/architecture.md#tracing): sending a command, handling it, deciding, publishing its
// events, and consuming them (projections, process managers). Attributes never hold payloads,
// names, actors or aggregate ids (an id may be personal data): subjects that carry an aggregate
// id appear as their pattern, `cim.<domain>.events.*`. Every helper is a pass-through when no SDK
// is registered. Contexts are handed on explicitly (each span's to the work it covers), so no
// context manager is needed: an AsyncLocalStorage one would cost every promise in the process.
import {
  context,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { MsgHdrs } from 'nats';
import { CimError } from '../errors.js';
import { activeTracer, contextFromHeaders, contextOr, injectContext } from './trace-context.js';

/** Attribute names used here (OpenTelemetry semantic conventions, and the appliance's own `cim.*`). */
export const Attr = {
  messagingSystem: 'messaging.system',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  destinationName: 'messaging.destination.name',
  destinationTemplate: 'messaging.destination.template',
  consumerGroup: 'messaging.consumer.group.name',
  errorType: 'error.type',
  domain: 'cim.domain',
  command: 'cim.command',
  eventType: 'cim.event.type',
  eventSeq: 'cim.event.seq',
  stream: 'cim.stream',
  streamSeq: 'cim.stream.seq',
  projection: 'cim.projection',
  processManager: 'cim.process_manager',
  attempt: 'cim.attempt',
} as const;

const NATS = 'nats';

/** The code a failure is known by: its CIM code, else CIM-INTERNAL (never its message, which may name an aggregate). */
export function errorCode(error: unknown): string {
  return error instanceof CimError ? error.code : 'CIM-INTERNAL';
}

/** Marks a span as failed with the CIM code as `error.type`. */
export function failSpan(span: Span, code: string): void {
  span.setAttribute(Attr.errorType, code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: code });
}

/** Ends `span` when `work` settles, failed when it rejects or when `failure` names a code for its result. */
async function endWith<T>(span: Span, work: Promise<T>, failure?: (result: T) => string | undefined): Promise<T> {
  try {
    const result = await work;
    const code = failure?.(result);
    if (code !== undefined) failSpan(span, code);
    return result;
  } catch (error) {
    failSpan(span, errorCode(error));
    throw error;
  } finally {
    span.end();
  }
}

/** Runs `work` in `span`'s context (as the parent of what it starts), ending the span when it settles. */
function runIn<T>(
  parent: Context,
  span: Span,
  work: (ctx: Context) => Promise<T>,
  failure?: (result: T) => string | undefined,
): Promise<T> {
  const ctx = trace.setSpan(parent, span);
  return endWith(span, context.with(ctx, work, undefined, ctx), failure);
}

/** The pattern of an event subject: its last token, the aggregate id, as `*`. */
export function eventSubjectPattern(subject: string): string {
  return `${subject.slice(0, subject.lastIndexOf('.'))}.*`;
}

/**
 * A command request about to be sent (a PRODUCER `send` span, child of `parent`, default the
 * active context): the span and the headers that carry its context, or undefined when nothing traces.
 */
export function startCommandSend(
  subject: string,
  domain: string,
  command: string,
  parent?: Context,
): { span: Span; headers: MsgHdrs | undefined } | undefined {
  const tracer = activeTracer();
  if (!tracer) return undefined;
  const from = parent ?? context.active();
  const span = tracer.startSpan(
    `send ${subject}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        [Attr.messagingSystem]: NATS,
        [Attr.operationType]: 'send',
        [Attr.operationName]: 'request',
        [Attr.destinationName]: subject,
        [Attr.domain]: domain,
        [Attr.command]: command,
      },
    },
    from,
  );
  return { span, headers: injectContext(trace.setSpan(from, span)) };
}

/** Ends a `send` span with the outcome of the request. */
export function endCommandSend<T>(span: Span, work: Promise<T>): Promise<T> {
  return endWith(span, work);
}

/**
 * Handles a command request in a CONSUMER `process` span whose parent is the context its headers
 * carry; `failure` names the CIM code of a reply that is an error.
 */
export function traceCommandHandling<T>(
  headers: MsgHdrs | undefined,
  subject: string,
  domain: string,
  command: string,
  work: (ctx: Context | undefined) => Promise<T>,
  failure: (result: T) => string | undefined,
): Promise<T> {
  const tracer = activeTracer();
  if (!tracer) return work(undefined);
  const parent = contextFromHeaders(headers);
  const span = tracer.startSpan(
    `process ${subject}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        [Attr.messagingSystem]: NATS,
        [Attr.operationType]: 'process',
        [Attr.operationName]: 'process',
        [Attr.destinationName]: subject,
        [Attr.consumerGroup]: `cim-${domain}`,
        [Attr.domain]: domain,
        [Attr.command]: command,
      },
    },
    parent,
  );
  return runIn(parent, span, work, failure);
}

/** One decision (load or cached state, then decide) in an INTERNAL `decide <Command>` span, child of `parent`. */
export function traceDecide<T>(
  parent: Context | undefined,
  domain: string,
  command: string,
  attempt: number,
  work: () => Promise<T>,
): Promise<T> {
  const tracer = activeTracer();
  if (!parent || !tracer) return work();
  const span = tracer.startSpan(
    `decide ${command}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: { [Attr.domain]: domain, [Attr.command]: command, [Attr.attempt]: attempt },
    },
    parent,
  );
  return runIn(parent, span, work);
}

/**
 * Publishes one event in a PRODUCER `publish cim.<domain>.events.*` span, child of `parent` (a
 * context, or a `traceparent` value; without one, the active context), whose context goes into
 * the event's headers: what consumers of the event continue. Without tracing, a `traceparent`
 * value is written as given.
 */
export function tracePublish<T extends { seq: number }>(
  h: MsgHdrs,
  stream: string,
  subject: string,
  event: { type: string; seq: number },
  from: string | Context | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const tracer = activeTracer();
  if (!tracer) {
    if (typeof from === 'string' && from) h.set('traceparent', from);
    return work();
  }
  const parent = typeof from === 'object' ? from : contextOr(from);
  const pattern = eventSubjectPattern(subject);
  const span = tracer.startSpan(
    `publish ${pattern}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        [Attr.messagingSystem]: NATS,
        [Attr.operationType]: 'send',
        [Attr.operationName]: 'publish',
        [Attr.destinationTemplate]: pattern,
        [Attr.stream]: stream,
        [Attr.eventType]: event.type,
        [Attr.eventSeq]: event.seq,
      },
    },
    parent,
  );
  injectContext(trace.setSpan(parent, span), h);
  return endWith(
    span,
    work().then((ack) => {
      span.setAttribute(Attr.streamSeq, ack.seq);
      return ack;
    }),
  );
}

/** What a consumer of events says about itself on its spans. */
export interface ConsumerAttributes {
  stream: string;
  /** `cim.projection` or `cim.process_manager`, with its name. */
  attributes: Attributes;
  /** The durable consumer's name, when it has one. */
  group?: string;
}

function startConsume(
  tracer: Tracer,
  headers: MsgHdrs | undefined,
  subject: string,
  streamSeq: number,
  who: ConsumerAttributes,
): { parent: Context; span: Span } {
  const parent = contextFromHeaders(headers);
  const pattern = eventSubjectPattern(subject);
  const attributes: Attributes = {
    [Attr.messagingSystem]: NATS,
    [Attr.operationType]: 'process',
    [Attr.operationName]: 'process',
    [Attr.destinationTemplate]: pattern,
    [Attr.stream]: who.stream,
    [Attr.streamSeq]: streamSeq,
    ...who.attributes,
  };
  if (who.group !== undefined) attributes[Attr.consumerGroup] = who.group;
  const span = tracer.startSpan(`process ${pattern}`, { kind: SpanKind.CONSUMER, attributes }, parent);
  return { parent, span };
}

/** Handles one consumed event in a CONSUMER `process` span continuing the trace its headers carry. */
export function traceConsume<T>(
  message: { headers?: MsgHdrs; subject: string; seq: number },
  who: ConsumerAttributes,
  work: (ctx: Context | undefined) => Promise<T>,
  failure?: (result: T) => string | undefined,
): Promise<T> {
  const tracer = activeTracer();
  if (!tracer) return work(undefined);
  const { parent, span } = startConsume(tracer, message.headers, message.subject, message.seq, who);
  return runIn(parent, span, work, failure);
}

/**
 * The `process` spans of the events in a batch being gathered (the projector's): one per event,
 * begun when it is read, ended together when the batch is committed or dropped. Holds nothing
 * and reads no header when nothing traces.
 */
export class BatchSpans {
  private spans: Span[] = [];

  constructor(private readonly who: ConsumerAttributes) {}

  begin(message: { headers?: MsgHdrs; subject: string; seq: number }): void {
    const tracer = activeTracer();
    if (!tracer) return;
    this.spans.push(startConsume(tracer, message.headers, message.subject, message.seq, this.who).span);
  }

  /** Ends every span begun since the last call: committed, or failed with the error's code. */
  end(error?: unknown): void {
    if (this.spans.length === 0) return;
    const spans = this.spans;
    this.spans = [];
    for (const span of spans) {
      if (error !== undefined) failSpan(span, errorCode(error));
      span.end();
    }
  }
}
