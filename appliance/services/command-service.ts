// Command handling as a NATS service (the micro protocol: discoverable with $SRV.PING/INFO/STATS):
// one endpoint per command, in a queue group so any number of instances share the load. Each
// request is validated, the facts it requires gathered, the aggregate loaded, the decision made
// and appended; a conflict (another instance appended first) reloads and decides again.
import { isSpanContextValid, trace, type Context } from '@opentelemetry/api';
import type { NatsConnection, Service, ServiceMsg } from 'nats';
import { commandOutcome, type AuditSink } from '../audit/index.js';
import { CimError, firstIssue, toCimError } from '../errors.js';
import {
  CommandLog,
  decodeEnvelope,
  Subjects,
  uuidv7,
  type AggregateHead,
  type AppendedEvent,
  type CommandRecord,
  type EventStore,
} from '../eventstore/index.js';
import { requestOrigin } from './request-origin.js';
import { commandSubject, CommandRequestSchema, type AppendedEventInfo, type CommandReply } from './command-protocol.js';
import type { Domain, ValidatedCommand } from '../decider/define-domain.js';
import { factKey, type CommandMetadata, type Facts } from '../decider/types.js';
import { sleep } from '../sleep.js';
import { traceCommandHandling, traceDecide } from '../telemetry/tracing.js';

export interface CommandServiceOptions {
  store: EventStore;
  /** Aggregates whose state an instance keeps between commands (default 10,000; 0: load every time). */
  cacheSize?: number;
  subjects?: Subjects;
  /** Decide again after a conflict this many times before answering CIM-CONFLICT (default 20). */
  conflictRetries?: number;
  version?: string;
  /** Called with every failed command (rejections included), e.g. for logs. */
  onError?: (command: string, error: CimError) => void;
  /** Called with every command answered, for metrics and logs (appliance/telemetry). */
  onCommand?: (observed: CommandObservation) => void;
  /**
   * Where every command request handled is recorded, whatever its outcome, before it is answered
   * (none: nothing is recorded, e.g. to measure what recording costs).
   */
  audit?: AuditSink;
}

/** What the handling of one request found out, for the observer and the audit record. */
interface Seen {
  correlationId?: string;
  traceId?: string;
  actor?: string;
  aggregateId?: string;
}

/** One answered command as an observer sees it: nothing of its payload. */
export interface CommandObservation {
  command: string;
  /** `ok`, or the CIM code it was answered with. */
  outcome: string;
  /** From receiving the request to answering it. */
  seconds: number;
  /** Events the reply names (an idempotent retry names the original ones again). */
  events: number;
  /** The request's correlation id, once it parsed. */
  correlationId?: string;
  /** The trace the handling was in, when tracing is on. */
  traceId?: string;
}

export interface CommandServiceHandle {
  readonly service: Service;
  /** Commands being handled right now. */
  readonly inFlight: number;
  /** Stops taking commands, then waits for the ones in flight to be answered. */
  stop(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function startCommandService<S>(
  nc: NatsConnection,
  domain: Domain<S>,
  options: CommandServiceOptions,
): Promise<CommandServiceHandle> {
  const subjects = options.subjects ?? new Subjects();
  const handler = new CommandHandler(
    domain,
    options.store,
    options.conflictRetries ?? 20,
    options.cacheSize ?? 10_000,
    new CommandLog(nc),
  );
  const inFlight = new Set<Promise<void>>();
  const service = await nc.services.add({
    name: `cim-${domain.name}`,
    version: options.version ?? '0.1.0',
    description: `${domain.name} commands: ${domain.commandTypes.join(', ')}`,
    queue: `cim-${domain.name}`,
    metadata: { domain: domain.name, aggregate: domain.aggregate },
  });
  for (const type of domain.commandTypes) {
    const subject = commandSubject(subjects.prefix, domain.name, type);
    service.addEndpoint(type, {
      subject,
      metadata: { kind: 'command' },
      handler: (error, msg) => {
        if (error) return; // the subscription ended; stop() handles that
        const started = performance.now();
        const seen: Seen = {};
        const done: Promise<void> = traceCommandHandling(
          msg.headers,
          subject,
          domain.name,
          type,
          (ctx) => {
            const span = ctx && trace.getSpan(ctx)?.spanContext();
            if (span && isSpanContextValid(span)) seen.traceId = span.traceId;
            return handler.handle(type, msg.data, ctx, seen);
          },
          (reply) => (reply.ok ? undefined : reply.error.code),
        )
          .then(async (reply) => {
            if (options.audit) reply = await audited(options.audit, domain.name, type, msg, reply, seen);
            respond(msg, reply, options.onError, type);
            options.onCommand?.({
              command: type,
              outcome: reply.ok ? 'ok' : reply.error.code,
              seconds: (performance.now() - started) / 1000,
              events: reply.ok ? reply.events.length : 0,
              ...(seen.correlationId !== undefined ? { correlationId: seen.correlationId } : {}),
              ...(seen.traceId !== undefined ? { traceId: seen.traceId } : {}),
            });
          })
          .finally(() => inFlight.delete(done));
        inFlight.add(done);
      },
    });
  }
  return {
    service,
    get inFlight() {
      return inFlight.size;
    },
    async stop() {
      await service.stop();
      await Promise.allSettled([...inFlight]);
    },
  };
}

/**
 * Records the request's outcome, then gives the reply to send: the reply itself once the record is
 * stored, or an error saying the record was not (and what became of the command), never a reply
 * that hides a missing record.
 */
async function audited(
  audit: AuditSink,
  domain: string,
  type: string,
  msg: ServiceMsg,
  reply: CommandReply,
  seen: Seen,
): Promise<CommandReply> {
  const code = reply.ok ? undefined : reply.error.code;
  const outcome = commandOutcome(code);
  try {
    await audit.record({
      actor: seen.actor ?? 'unknown',
      ...requestOrigin(msg.headers),
      action: `command.${domain}.${type}`,
      target: `${domain}/${seen.aggregateId ?? '-'}`,
      outcome,
      ...(code !== undefined ? { code } : {}),
      // A request that did not parse has none of its own: said so rather than made up.
      correlationId: seen.correlationId ?? 'none',
    });
    return reply;
  } catch (error) {
    const cim = toCimError(error);
    return {
      ok: false,
      ...(reply.commandId ? { commandId: reply.commandId } : {}),
      error: {
        code: 'CIM-UNAVAILABLE',
        message: `${type}: the command was ${outcome}${code ? ` (${code})` : ''}, but its audit record could not be stored: ${cim.message}`,
      },
    };
  }
}

function respond(msg: ServiceMsg, reply: CommandReply, onError: CommandServiceOptions['onError'], type: string): void {
  const body = encoder.encode(JSON.stringify(reply));
  if (reply.ok) {
    msg.respond(body);
    return;
  }
  const error = new CimError(reply.error.code as CimError['code'], reply.error.message);
  onError?.(type, error);
  // The micro protocol's error headers carry the status (services' stats count it); the body says what happened.
  msg.respondError(error.httpStatus, `${reply.error.code}: ${reply.error.message}`, body);
}

/**
 * The handling of one command, free of the service plumbing so it can be driven directly too.
 * Commands for one aggregate are handled one after another within an instance, so an instance
 * never conflicts with itself, and it keeps the state and head of the aggregates it handled: the
 * next command decides on them without reading the stream. If another instance appended in
 * between, the append conflicts, and the aggregate is reloaded and decided again. A decision to
 * change nothing cannot conflict, so before it is acknowledged on a cached state the stream's
 * head is read: if it moved, the aggregate is reloaded and decided again.
 *
 * A command with a command id (`commandId` in the request) is idempotent per aggregate, through
 * the command log (`log`): before its events are published they are recorded, encoded, as the
 * command's intent, with compare-and-set, so one decision per command id wins across instances.
 * A retry (on any instance, after any restart, within the log's window) finds the record and
 * completes it instead of deciding again: it publishes exactly the recorded bytes where they are
 * not stored yet (a publish of the same event lands once), or reads where they were stored, and
 * answers with the original events. An intent whose position another command took first never
 * landed: the command is decided again on the new state and the intent replaced.
 */
export class CommandHandler<S> {
  /** Per aggregate, the last command queued: the next one starts when it is done. */
  private readonly tails = new Map<string, Promise<unknown>>();
  /** Recently handled aggregates, least recently used first (a Map keeps insertion order). */
  private readonly cache = new Map<string, { state: S; head: AggregateHead }>();

  constructor(
    private readonly domain: Domain<S>,
    private readonly store: EventStore,
    private readonly conflictRetries: number,
    private readonly cacheSize = 10_000,
    /** Without a log, command ids are not deduplicated (a handler driven directly, e.g. in a benchmark of the decider). */
    private readonly log?: CommandLog,
  ) {}

  /**
   * `traceContext`: the span the handling is in, parent of its decide and publish spans. `seen` is
   * given the request's correlation id once it parsed (for the service's observer).
   */
  async handle(
    type: string,
    data: Uint8Array,
    traceContext?: Context,
    seen?: { correlationId?: string; actor?: string; aggregateId?: string },
  ): Promise<CommandReply> {
    let commandId: string | undefined;
    try {
      let body: unknown;
      try {
        body = JSON.parse(decoder.decode(data));
      } catch {
        throw new CimError('CIM-INVALID-INPUT', `${type}: the request is not JSON`);
      }
      const parsed = CommandRequestSchema.safeParse(body);
      if (!parsed.success) {
        if (seen) noteRawRequest(body, seen);
        throw new CimError('CIM-INVALID-INPUT', `${type}: ${firstIssue(parsed.error, '(request)')}`);
      }
      const request = parsed.data;
      commandId = request.commandId ?? uuidv7();
      if (seen) {
        seen.correlationId = request.correlationId ?? commandId;
        seen.actor = request.actor;
      }
      const command = this.domain.validate(type, request.payload);
      if (seen) seen.aggregateId = command.aggregateId;
      const metadata: CommandMetadata = {
        actor: request.actor,
        correlationId: request.correlationId ?? commandId,
        causationId: request.causationId ?? commandId,
        at: new Date().toISOString(),
      };
      // A generated id is never sent again, so only a caller's own id is looked up.
      const key =
        this.log && request.commandId !== undefined
          ? CommandLog.key(this.domain.name, command.aggregateId, request.commandId)
          : undefined;
      const events = await this.serially(command.aggregateId, async () =>
        this.decideAndAppend(command, metadata, await this.gatherFacts(command), key, traceContext),
      );
      return { ok: true, commandId, aggregateId: command.aggregateId, events };
    } catch (error) {
      const cim = toCimError(error);
      return { ok: false, ...(commandId ? { commandId } : {}), error: { code: cim.code, message: cim.message } };
    }
  }

  private remember(aggregateId: string, entry: { state: S; head: AggregateHead }): void {
    if (this.cacheSize <= 0) return;
    this.cache.delete(aggregateId);
    this.cache.set(aggregateId, entry);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
  }

  private async serially<T>(aggregateId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(aggregateId);
    const run = previous ? previous.then(work, work) : work();
    const tail = run.catch(() => undefined);
    this.tails.set(aggregateId, tail);
    try {
      return await run;
    } finally {
      if (this.tails.get(aggregateId) === tail) this.tails.delete(aggregateId);
    }
  }

  /** Answers the command's requirements from the event store: an aggregate exists if it has events. */
  private async gatherFacts(command: ValidatedCommand): Promise<Facts> {
    const facts: Record<string, boolean> = {};
    await Promise.all(
      command.requirements.map(async (r) => {
        facts[factKey(r.domain, r.aggregateId)] =
          (await this.store.head({ domain: r.domain, aggregateId: r.aggregateId })).seq > 0;
      }),
    );
    return facts;
  }

  /**
   * Decides the command and appends its events, returning them as the reply names them. With
   * `key` (the command's entry in the log), a decision already recorded for the command is
   * completed instead of deciding again.
   */
  private async decideAndAppend(
    command: ValidatedCommand,
    metadata: CommandMetadata,
    facts: Facts,
    key: string | undefined,
    traceContext?: Context,
  ): Promise<AppendedEventInfo[]> {
    const ref = { domain: this.domain.name, aggregate: this.domain.aggregate, aggregateId: command.aggregateId };
    const causation = {
      actor: metadata.actor,
      correlationId: metadata.correlationId,
      causationId: metadata.causationId,
    };
    // The log's entry as last read: its revision is what the next write must find. The first
    // attempt does not read it (a command is sent once far more often than retried): it
    // creates it, and finding it there already is the first sign of a retry.
    let revision: number | undefined;
    let readLog = false;
    for (let attempt = 0; ; attempt++) {
      if (attempt > this.conflictRetries) {
        throw new CimError(
          'CIM-CONFLICT',
          `${ref.domain}/${ref.aggregateId}: still contended after ${this.conflictRetries} attempts`,
          { hint: 'Send the command again.' },
        );
      }
      if (key !== undefined && readLog) {
        const entry = await this.log!.get(key);
        revision = entry?.revision;
        if (entry?.record?.kind === 'done') return entry.record.events;
        if (entry?.record?.kind === 'intent') {
          const landed = await this.complete(ref, entry.record, traceContext);
          if (landed !== undefined) {
            this.cache.delete(command.aggregateId); // events may have landed that the cache does not hold
            return landed;
          }
          // The intent's position was taken by another command first: it never landed, and
          // never will. Decide again on the new state, replacing it.
        }
      }
      readLog = true;
      let cached = attempt === 0 ? this.cache.get(command.aggregateId) : undefined;
      // A state decrypted before its subject was erased (by any process) is not used again.
      if (cached && this.store.protection?.erased(ref.domain, command.aggregateId)) {
        this.cache.delete(command.aggregateId);
        cached = undefined;
      }
      const { loaded, events } = await traceDecide(traceContext, ref.domain, command.type, attempt, async () => {
        const loaded = cached ?? (await this.store.load(ref, this.domain.reducer));
        return { loaded, events: this.domain.decide(command, loaded.state, metadata, facts) };
      });
      if (events.length === 0) {
        // "Nothing to change" holds only for the head: confirm a cached state still is it
        // (another instance may have appended since); if it moved, reload and decide again.
        if (cached && (await this.store.head(ref)).streamSeq !== cached.head.streamSeq) {
          this.cache.delete(command.aggregateId);
          continue;
        }
        if (
          key !== undefined &&
          (await this.log!.write(key, { v: 1, kind: 'done', events: [] }, revision)) === undefined
        )
          continue; // another instance recorded this command first: its record is the answer
        this.remember(command.aggregateId, loaded);
        return [];
      }
      const prepared = this.store.prepare(
        ref,
        loaded.head,
        events.map((e) => ({ type: e.type, typeVersion: e.typeVersion ?? 1, payload: e.payload, at: metadata.at })),
        causation,
      );
      if (key !== undefined) {
        const intent = {
          v: 1 as const,
          kind: 'intent' as const,
          head: loaded.head,
          events: prepared.map((p) => p.bytes),
        };
        revision = await this.log!.write(key, intent, revision);
        if (revision === undefined) continue; // another instance recorded this command first
      }
      try {
        const appended = await this.store.publishPrepared(ref, loaded.head, prepared, traceContext);
        let state = loaded.state;
        for (const a of appended) state = this.domain.reducer.evolve(state, a.envelope);
        const last = appended.at(-1)!;
        this.remember(command.aggregateId, {
          state,
          head: { seq: last.seq, cid: last.cid, streamSeq: last.streamSeq },
        });
        return appended.map((a) => info(a.envelope.type, a));
      } catch (error) {
        this.cache.delete(command.aggregateId); // whatever happened, the next command reloads
        if (!(error instanceof CimError && error.code === 'CIM-CONFLICT') || attempt >= this.conflictRetries)
          throw error;
        // Instances that conflicted would otherwise retry in lockstep and conflict again.
        await sleep(Math.random() * Math.min(100, 2 ** attempt));
        // The next attempt reads the log: another instance may have completed this very intent.
      }
    }
  }

  /**
   * Completes a recorded intent: each of its events is either stored at its position already
   * (read from the stream), or its position is free and it is published now; undefined when
   * another event holds the position of its first event (the intent never landed). After its
   * first event landed, the rest extend it, so only an instance that stopped in between leaves
   * a position to another command; the events that did land are then the answer.
   */
  private async complete(
    ref: { domain: string; aggregate: string; aggregateId: string },
    intent: Extract<CommandRecord, { kind: 'intent' }>,
    traceContext?: Context,
  ): Promise<AppendedEventInfo[] | undefined> {
    const events = intent.events.map((bytes) => decodeEnvelope(bytes));
    const landed: AppendedEventInfo[] = [];
    let head: AggregateHead = intent.head;
    for (let i = 0, tries = 0; i < events.length;) {
      const event = events[i]!;
      const stored = await this.store.eventAfter(ref, head.streamSeq);
      if (stored !== undefined) {
        if (!stored.cid.equals(event.cid)) return landed.length > 0 ? landed : undefined;
        landed.push({
          type: event.envelope.type,
          cid: stored.cid.toString(),
          seq: stored.seq,
          streamSeq: stored.streamSeq,
        });
        head = stored;
        i++;
        continue;
      }
      try {
        for (const a of await this.store.publishPrepared(ref, head, events.slice(i), traceContext)) {
          landed.push(info(a.envelope.type, a));
        }
        return landed;
      } catch (error) {
        // Someone published at that position meanwhile (this very intent, or another command): look again.
        if (!(error instanceof CimError && error.code === 'CIM-CONFLICT') || ++tries > this.conflictRetries)
          throw error;
      }
    }
    return landed;
  }
}

/** What a request that failed its schema still says of its actor and correlation id, where each is a plain short string. */
function noteRawRequest(body: unknown, seen: { correlationId?: string; actor?: string }): void {
  if (typeof body !== 'object' || body === null) return;
  const { actor, correlationId } = body as { actor?: unknown; correlationId?: unknown };
  const plain = (v: unknown): v is string =>
    typeof v === 'string' && v.length > 0 && v.length <= 200 && !/[^\x20-\x7e]/.test(v);
  if (plain(actor)) seen.actor = actor;
  if (plain(correlationId)) seen.correlationId = correlationId;
}

function info(type: string, event: AppendedEvent): AppendedEventInfo {
  return { type, cid: event.cid.toString(), seq: event.seq, streamSeq: event.streamSeq };
}
