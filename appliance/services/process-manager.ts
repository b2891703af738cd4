// Runs a process manager (e.g. onboarding) over NATS: a durable consumer per domain it listens
// to, each event's reaction sent as commands with correlation carried and causation = the event,
// then the event acknowledged. Delivery is at least once; the commands' deterministic ids and
// targets that treat a repeat as done make the flow exactly once (see ProcessManagerDefinition).
import type { Context } from '@opentelemetry/api';
import {
  AckPolicy,
  DeliverPolicy,
  nanos,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import { CimError, toCimError } from '../errors.js';
import { decodeEnvelope, domainStream, Subjects, type EventEnvelope } from '../eventstore/index.js';
import { sendCommand } from './command-client.js';
import type { ProcessManagerDefinition } from '../decider/types.js';
import type { Finding } from '../integrity/index.js';
import { Attr, traceConsume } from '../telemetry/tracing.js';
import { sleep } from '../sleep.js';

export interface ProcessManagerOptions {
  subjects?: Subjects;
  /** How long a delivered event may go unacknowledged before it is delivered again (default 30 s). */
  ackWaitMs?: number;
  /** Delay before an event whose commands failed for now (no service, conflict) is retried (default 1 s). */
  retryDelayMs?: number;
  sendTimeoutMs?: number;
  onError?: (error: CimError, eventId: string) => void;
  /**
   * Told about each message that is not a valid event (stream and sequence, never its contents):
   * it is acknowledged and skipped, so one bad message cannot stop the manager.
   */
  onInvalid?: (finding: Finding) => void;
  /**
   * Fault injection (scenarios, tests): called after an event's commands were sent and before it
   * is acknowledged; if it throws, the manager stops there as if it had crashed.
   */
  beforeAck?: (eventId: string) => void | Promise<void>;
}

export interface ProcessManagerHandle {
  readonly name: string;
  /** Events reacted to and acknowledged, commands sent, and messages skipped as not events, since start. */
  readonly stats: { events: number; commands: number; failures: number; invalid: number };
  /** Resolves when the manager stopped (stop(), or a crash injected by beforeAck). */
  readonly stopped: Promise<void>;
  stop(): Promise<void>;
}

const consumerName = (manager: string, domain: string) => `pm_${manager}_${domain}`.replace(/-/g, '_');

export async function startProcessManager(
  nc: NatsConnection,
  definition: ProcessManagerDefinition,
  options: ProcessManagerOptions = {},
): Promise<ProcessManagerHandle> {
  const subjects = options.subjects ?? new Subjects();
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  const stats = { events: 0, commands: 0, failures: 0, invalid: 0 };
  const domains = [...new Set(definition.reactsTo.map((r) => r.domain))];
  const wanted = new Set(definition.reactsTo.map((r) => `${r.domain}/${r.type}`));
  const feeds: ConsumerMessages[] = [];
  const manager = { [Attr.processManager]: definition.name };

  for (const domain of domains) {
    const durable = consumerName(definition.name, domain);
    try {
      await jsm.consumers.add(domainStream(domain), {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: subjects.domainEvents(domain),
        ack_wait: nanos(options.ackWaitMs ?? 30_000),
        max_ack_pending: 1_000,
      });
    } catch (error) {
      // The durable exists from an earlier run: it remembers what was acknowledged, which is the point.
      if (!/already (exists|in use)/i.test((error as Error).message)) throw toCimError(error);
    }
    feeds.push(await (await durableConsumer(js, domainStream(domain), durable)).consume({ max_messages: 100 }));
  }

  let stopping = false;
  const halt = () => {
    stopping = true;
    for (const feed of feeds) feed.stop(); // what was fetched and not acknowledged is delivered again later
  };
  const handle = async (m: JsMsg, domain: string): Promise<void> => {
    let envelope: EventEnvelope;
    try {
      envelope = decodeEnvelope(m.data).envelope;
    } catch (error) {
      stats.invalid++;
      options.onInvalid?.({
        kind: 'invalid-event',
        domain,
        stream: m.info.stream,
        streamSeq: m.seq,
        message: `process manager ${definition.name} skipped ${m.info.stream} seq ${m.seq}: not a valid event (${(error as Error).message})`,
      });
      m.term(); // never delivered again: it will not decode next time either
      return;
    }
    if (wanted.has(`${envelope.domain}/${envelope.type}`)) {
      // In a `process` span continuing the event's trace: the commands sent are its children.
      const outcome = await traceConsume(
        m,
        { stream: m.info.stream, group: consumerName(definition.name, domain), attributes: manager },
        (ctx) => react(envelope, ctx),
        (o) => o.failed,
      );
      if (outcome.retry) {
        m.nak(options.retryDelayMs ?? 1_000);
        return;
      }
    }
    await options.beforeAck?.(envelope.id);
    m.ack();
    stats.events++;
  };
  /**
   * Sends the event's commands. A failure is retried later when it may well work then
   * (unavailable, contended); anything else will not, and is acknowledged and reported.
   */
  const react = async (
    envelope: EventEnvelope,
    traceContext?: Context,
  ): Promise<{ failed?: string; retry: boolean }> => {
    const commands = definition.react(envelope);
    try {
      for (const [i, command] of commands.entries()) {
        await sendCommand(
          nc,
          command.domain,
          command.type,
          {
            actor: `process-manager:${definition.name}`,
            correlationId: envelope.correlationId,
            causationId: envelope.id,
            commandId: `${definition.name}:${envelope.id}:${i}`,
            payload: command.payload,
          },
          { subjects, timeoutMs: options.sendTimeoutMs ?? 10_000, traceContext },
        );
        stats.commands++;
      }
    } catch (error) {
      const cim = toCimError(error);
      stats.failures++;
      options.onError?.(cim, envelope.id);
      return { failed: cim.code, retry: cim.code === 'CIM-UNAVAILABLE' || cim.code === 'CIM-CONFLICT' };
    }
    return { retry: false };
  };

  // One feed per domain, in the order of `domains`.
  const loops = feeds.map(async (feed, i) => {
    for await (const m of feed) {
      if (stopping) break;
      try {
        await handle(m, domains[i]!);
      } catch (error) {
        // An injected crash: stop here, unacknowledged.
        options.onError?.(toCimError(error), `stream seq ${m.seq}`);
        halt();
        break;
      }
    }
  });
  const stopped = Promise.allSettled(loops).then(halt);

  return {
    name: definition.name,
    stats,
    stopped,
    async stop() {
      halt();
      await stopped;
    },
  };
}

/**
 * The durable just added, once its info answers. Two instances starting together both add it (the
 * server takes the same config twice); the one whose add came second can ask for its info before
 * the consumer's group has a leader, and hears "consumer not found" for a moment.
 */
async function durableConsumer(js: JetStreamClient, stream: string, durable: string): Promise<Consumer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await js.consumers.get(stream, durable);
    } catch (error) {
      if (attempt >= 10 || !/consumer not found/i.test((error as Error).message)) throw toCimError(error);
      await sleep(100 * attempt);
    }
  }
}
