// What the audit log and field encryption cost a command: command throughput (request → service:
// validate, decide, append, audit record → reply) with the service's audit writer against none, and
// with both the audit writer and the personal-data fields encrypted (a key per person, as `cim
// serve` runs), in one run on one cluster. Each mode runs twice: with the configured commands in
// flight, and with four times as many. A command waits for one more replicated write with the
// audit log on, so at a fixed number in flight it shows as latency; with enough in flight the
// services are busy all the time and the rate is the capacity (the off rate not rising with four
// times as many in flight shows it is reached). The modes alternate in rounds on the same people,
// every other round in reverse order, so drift falls on all alike; the figures are the ratios to off. The records stay in CIM_AUDIT,
// which keeps every record: they are what the run did.
import type { NatsConnection } from 'nats';
import {
  AUDIT_STREAM,
  AuditWriter,
  CimError,
  defineDomain,
  domainStream,
  EventStore,
  FieldEncryption,
  person,
  personalDataOf,
  SubjectKeyStore,
  type PayloadProtection,
  provision,
  sendCommand,
  sleep,
  startCommandService,
  type AuditSink,
  type CommandServiceHandle,
} from '../../appliance/index.js';
import { combinedThroughput, runLanes, type ThroughputFigure } from '../schedule.js';

export interface AuditBenchmarkOptions {
  /** Commands per mode (off and on each), split over the rounds. */
  messages: number;
  /** People the commands rename. */
  aggregates: number;
  inFlight: number;
  /** Commands in flight for the capacity figures (default 4 × inFlight; at most one per person). */
  capacityInFlight?: number;
  replicas: number;
  /** Rounds of each mode, alternating off, on, off, on, … (default 4). */
  rounds?: number;
  /** The bench domain (its stream is deleted before and after): must start with `bench`. */
  domain?: string;
  /** Where the command service (and its audit writer) runs; default the driver's own connection. */
  serviceConnection?: NatsConnection;
  /** Where the benchmark's subject key store is made (it is removed afterwards). */
  keyStoreDir: string;
  onProgress?: (phase: 'setup' | 'off' | 'on' | 'both', done: number, total: number) => void;
  signal?: AbortSignal;
}

/** The three modes at one number of commands in flight. */
export interface AuditModeFigures {
  lanes: number;
  /** Commands per second with no audit sink, all rounds together. */
  off: ThroughputFigure;
  /** With an audit writer: one record per command, stored before the reply. */
  on: ThroughputFigure;
  /** on / off: 1 is free. */
  ratio: number;
  /** The audit writer and field encryption together: what `cim serve` runs with. */
  both: ThroughputFigure;
  /** both / off. */
  bothRatio: number;
}

export interface AuditBenchmarkResult {
  domain: string;
  rounds: number;
  /** With the configured commands in flight: where the extra write shows as latency. */
  configured: AuditModeFigures;
  /** With four times as many: throughput at capacity, where the goal (both / off ≥ 0.85) is read. */
  capacity: AuditModeFigures;
  /** Audit records per stored message in the measured rounds: how much the writer's batches gathered. */
  recordsPerMessage: number;
  interrupted: boolean;
}

const WHO = { actor: 'bench' };
const personId = (i: number) => `u-${String(i).padStart(7, '0')}`;

export async function runAuditBenchmark(
  nc: NatsConnection,
  options: AuditBenchmarkOptions,
): Promise<AuditBenchmarkResult> {
  const name = options.domain ?? 'benchaudit';
  if (!name.startsWith('bench'))
    throw new CimError(
      'CIM-INVALID-INPUT',
      `domain "${name}": the audit benchmark deletes its stream, so it must start with "bench"`,
    );
  const domain = defineDomain({ ...person.definition, name, projections: [] });
  const { signal } = options;
  const rounds = options.rounds ?? 4;
  const lanes = Math.min(options.inFlight, options.aggregates);
  const capacityLanes = Math.min(options.capacityInFlight ?? 4 * options.inFlight, options.aggregates);
  const perRound = Math.max(capacityLanes, Math.floor(options.messages / rounds));
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(domainStream(name)).catch(() => false);
  await provision(nc, { domains: [name], replicas: options.replicas, duplicateWindowMs: 120_000 });
  const serviceNc = options.serviceConnection ?? nc;
  // Encryption is switched as the sink is: off, a payload goes out as it is (events encrypted in an
  // earlier round are still read back decrypted).
  const keys = SubjectKeyStore.open(options.keyStoreDir, { dir: options.keyStoreDir });
  const encryption = new FieldEncryption(personalDataOf([domain]), keys);
  let encrypting = false;
  const protection: PayloadProtection = {
    covers: (d) => encryption.covers(d),
    protect: (envelope) => (encrypting ? encryption.protect(envelope) : envelope),
    reveal: (envelope) => encryption.reveal(envelope),
    erased: (d, id) => encrypting && encryption.erased(d, id),
  };
  const store = await EventStore.open(serviceNc, { protection });
  const writer = await AuditWriter.open(serviceNc, { name: 'bench' });
  // One service for both modes, its sink switched between the writer and nothing: starting
  // services anew per round would measure their start-up and cold caches too. Off, a command's
  // hook hands its entry to a sink that drops it (no publish, no wait).
  let auditing = false;
  const sink: AuditSink = { record: (entry) => (auditing ? writer.record(entry) : Promise.resolve()) };
  const service: CommandServiceHandle = await startCommandService(serviceNc, domain, { store, audit: sink });
  const send = async (payload: object, type: string): Promise<void> => {
    await sendCommand(nc, name, type, { ...WHO, payload }, { timeoutMs: 30_000 });
  };
  try {
    // Until its interest reaches the driver's server, a command would find no responder.
    for (let attempt = 0; ; attempt++) {
      try {
        await nc.request(`$SRV.PING.cim-${name}`, undefined, { timeout: 1_000 });
        break;
      } catch (error) {
        if (attempt >= 50) throw error;
        await sleep(100);
      }
    }
    // People are registered encrypted, as `cim serve` registers them: a subject's key is made (and
    // synced) with its first personal data, here and not in the measured rounds.
    encrypting = true;
    await runLanes(
      lanes,
      options.aggregates,
      async (i) => {
        await send({ personId: personId(i), name: 'Ada Lovelace', email: `u${i}@example.org` }, 'RegisterPerson');
        return true;
      },
      (done) => options.onProgress?.('setup', done, options.aggregates),
      signal,
    );

    let renames = 0;
    // Each lane owns its people (lane, lane + lanes, …), so one person never has two renames in flight.
    const renamer = (laneCount: number) => {
      const perLane = Math.max(1, Math.floor(options.aggregates / laneCount));
      const counters = new Array<number>(laneCount).fill(0);
      let next = 0;
      return async (): Promise<boolean> => {
        const lane = next++ % laneCount;
        const i = lane + laneCount * (counters[lane]!++ % perLane);
        try {
          await send({ personId: personId(i), name: `Renamed ${++renames}` }, 'RenamePerson');
          return true;
        } catch {
          return false;
        }
      };
    };

    type Runs = Record<'off' | 'on' | 'both', { ok: number; failed: number; seconds: number }[]>;
    const sets = [lanes, capacityLanes].map((n) => ({
      lanes: n,
      rename: renamer(n),
      runs: { off: [], on: [], both: [] } as Runs,
    }));
    const messagesBefore = (await jsm.streams.info(AUDIT_STREAM)).state.messages;
    // The streams grow as the run goes on, so a phase tends to run a little slower than the one
    // before it: every other round runs its phases in reverse order, so no mode always comes last.
    const phases = sets.flatMap((set) => (['off', 'on', 'both'] as const).map((mode) => ({ set, mode })));
    for (let round = 0; round < rounds && !signal?.aborted; round++) {
      for (const { set, mode } of round % 2 === 0 ? phases : [...phases].reverse()) {
        if (signal?.aborted) break;
        auditing = mode !== 'off';
        encrypting = mode === 'both';
        set.runs[mode].push(
          await runLanes(set.lanes, perRound, set.rename, (d) => options.onProgress?.(mode, d, perRound), signal),
        );
      }
    }
    await writer.flush();
    // Every audited command has one record, answered or not (a failed one is recorded too).
    const records = sets.reduce(
      (n, set) => n + [...set.runs.on, ...set.runs.both].reduce((m, r) => m + r.ok + r.failed, 0),
      0,
    );
    const messages = (await jsm.streams.info(AUDIT_STREAM)).state.messages - messagesBefore;
    const [configured, capacity] = sets.map(({ lanes: n, runs }) => modeFigures(n, runs));
    return {
      domain: name,
      rounds,
      configured: configured!,
      capacity: capacity!,
      recordsPerMessage: messages > 0 ? records / messages : 0,
      interrupted: signal?.aborted ?? false,
    };
  } finally {
    await service.stop();
    await writer.flush();
    keys.close();
    await jsm.streams.delete(domainStream(name)).catch(() => false);
  }
}

function modeFigures(
  lanes: number,
  runs: Record<'off' | 'on' | 'both', { ok: number; failed: number; seconds: number }[]>,
): AuditModeFigures {
  const off = combinedThroughput(runs.off);
  const on = combinedThroughput(runs.on);
  const both = combinedThroughput(runs.both);
  return {
    lanes,
    off,
    on,
    ratio: off.perSecond > 0 ? on.perSecond / off.perSecond : 0,
    both,
    bothRatio: off.perSecond > 0 ? both.perSecond / off.perSecond : 0,
  };
}
