// Command handling as a NATS service (the micro protocol: discoverable with $SRV.PING/INFO/STATS):
// one endpoint per command, in a queue group so any number of instances share the load. Each
// request is validated, the facts it requires gathered, the aggregate loaded, the decision made
// and appended; a conflict (another instance appended first) reloads and decides again.
import type { NatsConnection, Service, ServiceMsg } from 'nats';
import { CimError, firstIssue, toCimError } from '../errors.js';
import { Subjects, uuidv7, type AggregateHead, type AppendedEvent, type EventStore } from '../eventstore/index.js';
import { commandSubject, CommandRequestSchema, type CommandReply } from './command-protocol.js';
import type { Domain, ValidatedCommand } from '../decider/define-domain.js';
import { factKey, type CommandMetadata, type Facts } from '../decider/types.js';
import { sleep } from '../sleep.js';

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
  const handler = new CommandHandler(domain, options.store, options.conflictRetries ?? 20, options.cacheSize ?? 10_000);
  const inFlight = new Set<Promise<void>>();
  const service = await nc.services.add({
    name: `cim-${domain.name}`,
    version: options.version ?? '0.1.0',
    description: `${domain.name} commands: ${domain.commandTypes.join(', ')}`,
    queue: `cim-${domain.name}`,
    metadata: { domain: domain.name, aggregate: domain.aggregate },
  });
  for (const type of domain.commandTypes) {
    service.addEndpoint(type, {
      subject: commandSubject(subjects.prefix, domain.name, type),
      metadata: { kind: 'command' },
      handler: (error, msg) => {
        if (error) return; // the subscription ended; stop() handles that
        const done: Promise<void> = handler
          .handle(type, msg.data)
          .then((reply) => respond(msg, reply, options.onError, type))
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
 * between, the append conflicts, and the aggregate is reloaded and decided again.
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
  ) {}

  async handle(type: string, data: Uint8Array): Promise<CommandReply> {
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
        throw new CimError('CIM-INVALID-INPUT', `${type}: ${firstIssue(parsed.error, '(request)')}`);
      }
      const request = parsed.data;
      commandId = request.commandId ?? uuidv7();
      const command = this.domain.validate(type, request.payload);
      const metadata: CommandMetadata = {
        actor: request.actor,
        correlationId: request.correlationId ?? commandId,
        causationId: request.causationId ?? commandId,
        at: new Date().toISOString(),
      };
      const appended = await this.serially(command.aggregateId, async () =>
        this.decideAndAppend(command, metadata, await this.gatherFacts(command)),
      );
      return {
        ok: true,
        commandId,
        aggregateId: command.aggregateId,
        events: appended.map(({ event, type: eventType }) => ({
          type: eventType,
          cid: event.cid.toString(),
          seq: event.seq,
          streamSeq: event.streamSeq,
        })),
      };
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

  private async decideAndAppend(
    command: ValidatedCommand,
    metadata: CommandMetadata,
    facts: Facts,
  ): Promise<{ event: AppendedEvent; type: string }[]> {
    const ref = { domain: this.domain.name, aggregate: this.domain.aggregate, aggregateId: command.aggregateId };
    for (let attempt = 0; ; attempt++) {
      const cached = attempt === 0 ? this.cache.get(command.aggregateId) : undefined;
      const loaded = cached ?? (await this.store.load(ref, this.domain.reducer));
      const events = this.domain.decide(command, loaded.state, metadata, facts);
      if (events.length === 0) {
        this.remember(command.aggregateId, loaded);
        return [];
      }
      try {
        const appended = await this.store.append(
          ref,
          loaded.head,
          events.map((e) => ({ type: e.type, typeVersion: e.typeVersion ?? 1, payload: e.payload, at: metadata.at })),
          { actor: metadata.actor, correlationId: metadata.correlationId, causationId: metadata.causationId },
        );
        let state = loaded.state;
        for (const a of appended) state = this.domain.reducer.evolve(state, a.envelope);
        const last = appended.at(-1)!;
        this.remember(command.aggregateId, {
          state,
          head: { seq: last.seq, cid: last.cid, streamSeq: last.streamSeq },
        });
        return appended.map((event, i) => ({ event, type: events[i]!.type }));
      } catch (error) {
        this.cache.delete(command.aggregateId); // whatever happened, the next command reloads
        if (!(error instanceof CimError && error.code === 'CIM-CONFLICT') || attempt >= this.conflictRetries)
          throw error;
        // Instances that conflicted would otherwise retry in lockstep and conflict again.
        await sleep(Math.random() * Math.min(100, 2 ** attempt));
      }
    }
  }
}
