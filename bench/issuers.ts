// What one operation of a scenario's load phase does: send a command to a domain service over
// NATS, or publish one raw JetStream message. Each records itself — its outcome, what its
// acknowledgement promised, and its latency from when it was *due* (the scheduler's dueMs), so a
// stalled cluster shows as latency rather than as fewer samples (no coordinated omission).
import type { JetStreamClient, NatsConnection } from 'nats';
import { sendCommand, sleep, toCimError } from '../appliance/index.js';
import type { CommandMix, GeneratedCommand } from './command-mix.js';
import type { OperationRecord, PhaseRecorder } from './recorder.js';
import type { Issue } from './schedule.js';

/** Codes that mean the command was refused and nothing was stored; anything else may have been. */
export const NOT_APPLIED: ReadonlySet<string> = new Set([
  'CIM-REJECTED',
  'CIM-CONFLICT',
  'CIM-NOT-FOUND',
  'CIM-INVALID-INPUT',
  'CIM-INVALID-EVENT',
]);

export interface CommandLoadOptions {
  nc: NatsConnection;
  mix: CommandMix;
  recorder: PhaseRecorder;
  clock: () => number;
  /** The run's actor and correlation id: what the checker finds the run's events by. */
  actor: string;
  correlationId: string;
  /** Unique per operation within the run. */
  commandId: (index: number) => string;
  timeoutMs?: number;
}

/** What sending one command came to: the record's outcome, what was acknowledged, the error code. */
export type SendOutcome = Pick<OperationRecord, 'outcome' | 'acked' | 'errorCode'>;

/** What every command driver shares: where commands come from, where they are recorded, the ids. */
export interface MixIssuerOptions {
  mix: CommandMix;
  recorder: PhaseRecorder;
  clock: () => number;
  commandId: (index: number) => string;
}

/**
 * An Issue that takes the mix's next command, hands it to `send` (the driver: NATS or HTTP) and
 * records what came back, timed from when it was due. The one loop every command driver runs.
 */
export function mixIssuer(
  options: MixIssuerOptions,
  send: (command: GeneratedCommand, id: string) => Promise<SendOutcome>,
): Issue {
  const { mix, recorder, clock } = options;
  return async (dueMs, index) => {
    const command = mix.next();
    if (!command) {
      // Every candidate aggregate is busy: let the others finish instead of spinning.
      await sleep(1);
      return;
    }
    const id = options.commandId(index);
    const record: OperationRecord = {
      id,
      label: `${command.domain}.${command.command}`,
      outcome: 'unknown',
      acked: [],
      startMs: dueMs,
      endMs: 0,
    };
    Object.assign(record, await send(command, id));
    record.endMs = clock();
    mix.settle(command, record.outcome === 'ok');
    recorder.record(record);
  };
}

/** An Issue that sends the mix's next command over NATS and records its reply. */
export function commandIssuer(options: CommandLoadOptions): Issue {
  return mixIssuer(options, async (command, id) => {
    try {
      const result = await sendCommand(
        options.nc,
        command.domain,
        command.command,
        { payload: command.payload, actor: options.actor, correlationId: options.correlationId, commandId: id },
        { timeoutMs: options.timeoutMs ?? 15_000 },
      );
      return { outcome: 'ok', acked: result.events.map((e) => e.cid) };
    } catch (error) {
      const code = toCimError(error).code;
      return { outcome: NOT_APPLIED.has(code) ? 'failed' : 'unknown', acked: [], errorCode: code };
    }
  });
}

export interface RawLoadOptions {
  js: JetStreamClient;
  stream: string;
  /** Subject prefix of the stream; messages go to `<prefix>.<n>` over `subjects` subjects. */
  subjectPrefix: string;
  subjects: number;
  payloadBytes: number;
  recorder: PhaseRecorder;
  clock: () => number;
  messageId: (index: number) => string;
}

/** Raw message bodies start with their id (so the read-back can attribute them), padded to size. */
export function rawBody(id: string, payloadBytes: number): Uint8Array {
  const body = new Uint8Array(Math.max(payloadBytes, id.length + 1)).fill(0x2e);
  body.set(new TextEncoder().encode(id + '\n'));
  return body;
}

/** The id a raw body starts with. */
export function rawBodyId(body: Uint8Array): string {
  const end = body.indexOf(0x0a);
  return new TextDecoder().decode(body.subarray(0, end < 0 ? Math.min(body.length, 64) : end));
}

/** An Issue that publishes one raw message and records its ack (`stream:seq`). */
export function rawIssuer(options: RawLoadOptions): Issue {
  const { js, recorder, clock } = options;
  return async (dueMs, index) => {
    const id = options.messageId(index);
    const record: OperationRecord = { id, label: 'raw', outcome: 'unknown', acked: [], startMs: dueMs, endMs: 0 };
    try {
      const ack = await js.publish(
        `${options.subjectPrefix}.${index % options.subjects}`,
        rawBody(id, options.payloadBytes),
        { timeout: 15_000 },
      );
      record.outcome = 'ok';
      record.acked = [`${ack.stream}:${ack.seq}`];
    } catch (error) {
      // The client's own codes: 503 means no stream took it; a timeout may still have been stored.
      const code = String((error as { code?: unknown }).code ?? 'ERROR');
      record.outcome = code === '503' ? 'failed' : 'unknown';
      record.errorCode = `NATS-${code}`;
    }
    record.endMs = clock();
    recorder.record(record);
  };
}
