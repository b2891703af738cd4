// Load drivers for scenario phases: a schedule (closed loop at a fixed window, or open loop at a
// fixed rate with at most `concurrency` in flight) and the operations it issues — commands to the
// domain services over NATS, or raw JetStream publishes. Each operation records itself: its
// outcome, what its acknowledgement promised, and its latency from when it was *due*, so a
// stalled cluster shows as latency rather than as fewer samples (no coordinated omission).
import { performance } from 'node:perf_hooks';
import type { JetStreamClient, NatsConnection } from 'nats';
import { CimError, sendCommand, toCimError } from '../appliance/index.js';
import type { CommandMix } from './command-mix.js';
import type { OperationRecord, PhaseRecorder } from './recorder.js';

export interface LoadSchedule {
  /** Operations per second, or `max` for a closed loop of `concurrency` lanes. */
  rate: number | 'max';
  concurrency: number;
  durationMs?: number | undefined;
  count?: number | undefined;
}

/** Issues one operation that was due at `dueMs` (scenario clock); resolves when it has been recorded. */
export type Issue = (dueMs: number, index: number) => Promise<void>;

export interface DriveOptions {
  /** Milliseconds since the scenario started. */
  clock: () => number;
  signal?: AbortSignal | undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs the schedule until its count is issued or its duration has passed (or the signal aborts), then waits for what is in flight. */
export async function driveLoad(schedule: LoadSchedule, issue: Issue, options: DriveOptions): Promise<{ issued: number }> {
  const { clock, signal } = options;
  const started = clock();
  const endsAt = schedule.durationMs !== undefined ? started + schedule.durationMs : Infinity;
  const count = schedule.count ?? Infinity;
  if (count === Infinity && endsAt === Infinity) throw new CimError('CIM-INVALID-INPUT', 'a load schedule needs a count or a duration');
  let issued = 0;
  const more = () => issued < count && clock() < endsAt && !signal?.aborted;

  if (schedule.rate === 'max') {
    const lane = async () => {
      while (more()) await issue(clock(), issued++);
    };
    await Promise.all(Array.from({ length: schedule.concurrency }, lane));
    return { issued };
  }

  const interval = 1_000 / schedule.rate;
  const inFlight = new Set<Promise<void>>();
  while (more()) {
    const now = clock();
    // Operations due by now; when the window is full they wait, and their latency counts the wait.
    const due = Math.min(count, Math.floor((now - started) / interval) + 1);
    while (issued < due && inFlight.size < schedule.concurrency && clock() < endsAt) {
      const dueMs = started + issued * interval;
      const pending: Promise<void> = issue(dueMs, issued++).finally(() => inFlight.delete(pending));
      inFlight.add(pending);
    }
    if (inFlight.size >= schedule.concurrency) await Promise.race(inFlight);
    else await sleep(1);
  }
  await Promise.all(inFlight);
  return { issued };
}

/** Codes that mean the command was refused and nothing was stored; anything else may have been. */
const NOT_APPLIED = new Set(['CIM-REJECTED', 'CIM-CONFLICT', 'CIM-NOT-FOUND', 'CIM-INVALID-INPUT', 'CIM-INVALID-EVENT']);

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

/** An Issue that sends the mix's next command and records its reply. */
export function commandIssuer(options: CommandLoadOptions): Issue {
  const { nc, mix, recorder, clock } = options;
  return async (dueMs, index) => {
    const command = mix.next();
    if (!command) {
      // Every candidate aggregate is busy: let the others finish instead of spinning.
      await sleep(1);
      return;
    }
    const id = options.commandId(index);
    const record: OperationRecord = { id, label: `${command.domain}.${command.command}`, outcome: 'unknown', acked: [], startMs: dueMs, endMs: 0 };
    try {
      const result = await sendCommand(nc, command.domain, command.command, { payload: command.payload, actor: options.actor, correlationId: options.correlationId, commandId: id }, { timeoutMs: options.timeoutMs ?? 15_000 });
      record.outcome = 'ok';
      record.acked = result.events.map((e) => e.cid);
    } catch (error) {
      const code = toCimError(error).code;
      record.outcome = NOT_APPLIED.has(code) ? 'failed' : 'unknown';
      record.errorCode = code;
    }
    record.endMs = clock();
    mix.settle(command, record.outcome === 'ok');
    recorder.record(record);
  };
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
      const ack = await js.publish(`${options.subjectPrefix}.${index % options.subjects}`, rawBody(id, options.payloadBytes), { timeout: 15_000 });
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

/** A scenario clock: ms since it was made. */
export function scenarioClock(): () => number {
  const origin = performance.now();
  return () => performance.now() - origin;
}
