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
}

export type ScenarioStatus = 'passed' | 'failed' | 'error' | 'interrupted' | 'skipped';

export interface ScenarioResult {
  scenario: string;
  description: string;
  seed: number;
  file?: string;
  status: ScenarioStatus;
  /** In a version matrix: the server this result was measured on, as asked for (`--servers`). */
  server?: string;
  /** Why it errored or was skipped. */
  reason?: string;
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
  /** First failed operation after the fault to the next acknowledgement, ms; 0 when nothing failed. */
  recoveryMs?: number;
  /** Longest time without an acknowledgement after the fault fired, ms (when load ran during it). */
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
