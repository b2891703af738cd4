// What a run of scenarios produced: the figures, how they were obtained, and the verdicts. This is
// the `results` part of the performance report (docs/architecture.md#reports), and what
// `--out FILE` writes as plain JSON.
import type { ReplicaComparison, ServerBuild } from '../appliance/index.js';
import type {
  CheckerVerdict,
  LatencySummary,
  RawBaselineResult,
  ReplayBenchmarkResult,
  SecondSample,
  ServerSample,
} from '../bench/index.js';
import type { FailOn, Verdict } from '../reports/index.js';
import type { FaultRecord } from './faults.js';
import type { ClusterShape } from './types.js';

export const RESULTS_VERSION = 1;

export interface Environment {
  node: string;
  platform: string;
  cpu: { model: string; cores: number };
  memoryBytes: number;
  /** The appliance's git revision when run from a checkout; absent otherwise. */
  gitRevision?: string;
  appliance: string;
  /** `uname -r`. */
  kernel?: string;
  /** The version of the `nats` client package. */
  natsJs?: string;
  /** natscli, whose `nats bench` is the peer benchmark, when it is installed. */
  natscli?: string;
  /** The file system of the state dir, where the embedded servers keep their stores. */
  storeFileSystem?: string;
}

export interface BenchResults {
  v: typeof RESULTS_VERSION;
  kind: 'performance-results';
  runId: string;
  createdAt: string;
  environment: Environment;
  scenarios: ScenarioResult[];
  /** Ctrl-C stopped the run: the scenarios hold what was measured until then. */
  interrupted: boolean;
  /** A version matrix (`cim bench --servers`): the servers, in the order asked for. */
  servers?: string[];
  /** What fails the run (`cim bench --fail-on`); absent in results written before it existed: `failed`. */
  failOn?: FailOn;
}

/**
 * A scenario's verdict, decided by reports/verdict.ts (docs/architecture.md#verdicts): `failed` when
 * an assertion did not hold, `finding` when they all held but the system under test misbehaved
 * (loss, unexpected or duplicate events, verification findings, diverging replicas, a node that did
 * not start again, data not served after a fault), `error` when the run itself broke.
 */
export type ScenarioStatus = Verdict;

export interface ScenarioResult {
  scenario: string;
  description: string;
  seed: number;
  file?: string;
  status: ScenarioStatus;
  /** In a version matrix: the server this result was measured on, as asked for (`--servers`). */
  server?: string;
  /** With `cim bench --repeat N`: which repetition (from 1) this is; the scenario's name and seed are the same in each. */
  repetition?: number;
  /** Why it errored or was skipped. */
  reason?: string;
  /** The CIM-* code of the error, when it errored: `cim bench` exits with that code's exit status. */
  errorCode?: string;
  /** One line per way the system under test misbehaved (`lost 3 acknowledged events`); absent when none. */
  findings?: string[];
  /**
   * After a fault, the system under test would not give its data back to the checker or to
   * verification (a stream it says holds events that no consumer delivers, JetStream unavailable):
   * the reason, as the read failed. A finding, not an error: the run worked, the system did not.
   */
  unserved?: { code: string; reason: string };
  startedAt: string;
  seconds: number;
  cluster: ClusterDescription;
  baseline?: RawBaselineResult;
  phases: PhaseResult[];
  checker?: CheckerVerdict & {
    streams: { stream: string; scanned: number; undecodable: number; meanBytes: number }[];
    /** The same history checked against each replica's own copy of the streams (read from its block files). */
    perReplica?: ReplicaCheck[];
  };
  /** Every replica of the streams the run wrote, compared one by one (docs/architecture.md, "Replica comparison"). */
  replicas?: ReplicaComparison;
  verification?: {
    domains: { domain: string; events: number; seals: number; findings: number }[];
    findings: number;
    samples: string[];
  };
  /** Every figure an assertion can name: scenario-wide (`p99_ms`) and per phase (`load-1.p99_ms`). */
  metrics: Record<string, number>;
  checks: { text: string; ok: boolean; actual: number | null }[];
  serverStats: ServerSample[];
}

/** The checker against one replica's copy: what that server alone would have given back. */
export interface ReplicaCheck {
  server: string;
  stream?: string;
  lost: number;
  unexpected: number;
  duplicates: number;
}

export interface ClusterDescription extends ClusterShape {
  mode: 'embedded' | 'embedded-running' | 'attached';
  servers: { name: string; version?: string }[];
  /** The embedded cluster's binary and where it came from; absent when attached. */
  serverBuild?: ServerBuild;
  /** What the servers actually use for `sync_interval`: the scenario's, or the server default. */
  syncIntervalInEffect: string;
}

interface PhaseResultBase {
  name: string;
  startedAtMs: number;
  endedAtMs: number;
  error?: { code: string; message: string };
}

export interface LoadPhaseResult extends PhaseResultBase {
  type: 'load';
  driver: string;
  /** The command mix, canonical (`person.RenamePerson×3, …`), so phases of one mix can be compared; none for `raw`. */
  mix?: string;
  rate: number | 'max';
  concurrency: number;
  ok: number;
  failed: number;
  unknown: number;
  opsPerSec: number;
  ratioToRaw: number;
  latency: LatencySummary;
  perSecond: SecondSample[];
  errorsByCode: Record<string, number>;
}

export interface FaultPhaseResult extends PhaseResultBase {
  type: 'fault';
  fault?: FaultRecord;
  /**
   * Fault firing → the delivered rate back within 10 % of the offered rate and staying there for
   * 2 s (scenarios/recovery.ts), ms; 0 when it never dipped; absent when it did not recover within
   * the run (then `recovered` is false) or no load ran at the fault.
   */
  recoveryMs?: number;
  /** Whether the rate recovered before the load ended; absent when no load ran at the fault (and in older results). */
  recovered?: boolean;
  /** The rate recovery was measured against (ops/s) and what it is: the phases' fixed rate, or the median before the fault (`rate: max`). */
  recoveryReference?: { perSec: number; kind: 'offered' | 'before-fault' };
  /** False when the rate never left the band: recovery 0, "no dip". */
  dip?: boolean;
  /** Why recovery could not be measured, when it could not. */
  recoveryNote?: string;
  /** Longest time without an acknowledgement after the fault fired until the load ended, ms (when load ran during it). */
  stallMs?: number;
}

export interface ReplayPhaseResult extends PhaseResultBase {
  type: 'replay';
  projection: string;
  replay?: ReplayBenchmarkResult;
}

export interface CheckPhaseResult extends PhaseResultBase {
  type: 'check';
}

export type PhaseResult = LoadPhaseResult | FaultPhaseResult | ReplayPhaseResult | CheckPhaseResult;
