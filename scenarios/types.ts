// The scenario language as the runner sees it: what a scenario file (scenarios/catalog/*.yaml)
// means once the loader has parsed and validated it. YAML keys are snake_case; these types are
// camelCase; durations are written "500ms", "20s", "2m" and held here in milliseconds.

/** One scenario: a cluster shape and phases that run in order or overlap. */
export interface Scenario {
  /** Lower-case letters, digits and "-": how `cim bench NAME` and reports refer to it. */
  name: string;
  description: string;
  /** Seeds every generator of the run (command mix, data, target choice), so a run repeats. */
  seed: number;
  /**
   * How many runs `cim bench` makes of it by default, each with its own seed derived from `seed`
   * and on a fresh cluster (`--seeds N` overrides); absent: one. YAML: `seeds`.
   */
  seeds?: number;
  /** Suites the scenario belongs to (`standard`, `quick`, `fault`, …); `cim bench` runs `standard` by default. */
  suites: string[];
  cluster: ClusterShape;
  phases: Phase[];
  /** The file it was loaded from (absent for scenarios built in code). */
  file?: string;
}

export interface ClusterShape {
  /** NATS servers of the embedded cluster (1–7, default 3). Attached clusters are used as they are. */
  nodes: number;
  /** Replicas of every stream (1–nodes, default min(3, nodes)). */
  replicas: number;
  /** JetStream `sync_interval` (`2m`, `10s`, `always`); absent keeps the server default. YAML: `sync_interval`. */
  syncInterval?: string;
}

export type Phase = LoadPhase | FaultPhase | ReplayPhase | CheckPhase;
export type PhaseType = Phase['type'];

interface PhaseBase {
  /** Unique within the scenario; defaults to `<type>-<index>` (index from 1) when the file gives none. */
  name: string;
  /**
   * When the phase starts, in ms from the scenario's start. Absent: when every earlier phase has
   * ended. A phase with `at` overlaps whatever runs then (a fault during a load); a later phase
   * without `at` still waits for it.
   */
  at?: number;
}

/** Drives commands (or raw publishes) at a fixed rate or as fast as a window allows. */
export interface LoadPhase extends PhaseBase {
  type: 'load';
  /** `nats`: commands as NATS requests to the domain services; `http`: through the HTTP gateway; `raw`: JetStream publishes, no services. */
  driver: 'nats' | 'http' | 'raw';
  /** Operations per second (open loop, latency measured from the schedule), or `max` (closed loop). */
  rate: number | 'max';
  /** Operations in flight at most (default 64). */
  concurrency: number;
  /** How long the phase runs (ms). Exactly one of duration and count is given. */
  duration?: number;
  /** How many operations the phase issues. */
  count?: number;
  /** The commands to send, chosen at random by weight (driver `nats`/`http`; `raw` takes none). */
  mix: MixEntry[];
  /** Aggregates per domain the generated commands spread over (default 1000). */
  aggregates: number;
  /** Driver `raw`: bytes per message (default 256). */
  payloadBytes?: number;
}

export interface MixEntry {
  /** `<domain>.<Command>`, e.g. `person.RenamePerson`: a command of a served domain. */
  command: string;
  /** Relative weight (> 0). */
  weight: number;
}

/** Something done to the cluster (or the appliance) at a point in the run. */
export interface FaultPhase extends PhaseBase {
  type: 'fault';
  /**
   * `kill`: SIGKILL, then start again after `for` (if given); `pause`: SIGSTOP, SIGCONT after `for`
   * (default 5 s); `restart`: graceful stop and start; `corrupt`: stop the target (a follower),
   * damage its block file of `stream`, start it again; `restart-appliance`: stop and restart the
   * domain services, projections and sealers of the run; `partition`: cut the network between the
   * target and the other nodes (or between the groups of `split`) for `for` (default 10 s), or
   * repeatedly as `flap` says, then heal it (the nodes keep running).
   */
  action: 'kill' | 'pause' | 'restart' | 'corrupt' | 'restart-appliance' | 'partition';
  /** Which node(s); absent for `restart-appliance`, and for `partition` with `split`. */
  target?: FaultTarget;
  /** How long the fault lasts (ms), for `kill`, `pause` and `partition`. */
  for?: number;
  /** For `corrupt`: how the block file is damaged. */
  corruption?: Corruption;
  /**
   * For `partition` with a target: `peers` (default) cuts it off from the other nodes only;
   * `peers-and-clients` from every client too (the appliance, the load, the monitor).
   */
  cut?: 'peers' | 'peers-and-clients';
  /** For `partition` instead of a target: the groups the cluster is split into (every node in one), e.g. `[[n1], [n2, n3]]`. */
  split?: string[][];
  /** For `partition`: cut `times` times, each cut lasting `on` ms, the network whole for `off` ms between cuts. */
  flap?: Flap;
}

/** A flapping partition: `times` cuts of `on` ms with `off` ms of a whole network between them. */
export interface Flap {
  times: number;
  on: number;
  off: number;
}

/**
 * YAML: `n2` (a node by name), `leader of CIM_PERSON` (whoever leads that stream when the fault
 * fires), `follower of CIM_PERSON` (a non-leader replica, chosen with the seed), `all`.
 */
export type FaultTarget = { node: string } | { leaderOf: string } | { followerOf: string } | { all: true };

export interface Corruption {
  /** The stream whose data file is damaged (on the target node). */
  stream: string;
  /** `flip-bits`: flip `bytes` random bits in the last block file; `truncate`: cut `bytes` bytes off its end. */
  mode: 'flip-bits' | 'truncate';
  /** Default 64. */
  bytes: number;
}

/** Rebuilds a projection from its streams, or travels in time. */
export interface ReplayPhase extends PhaseBase {
  type: 'replay';
  /** A projection of a served domain, e.g. `person_directory`. */
  projection: string;
  /** Time travel: stop at a stream sequence, a time, or a fraction of the stream (`50%`). Absent: everything. */
  to?: { seq: number } | { time: string } | { fraction: number };
}

/** Assertions over the run's measurements, evaluated after every phase ended and the checker read everything back. */
export interface CheckPhase extends PhaseBase {
  type: 'check';
  expect: Assertion[];
}

export type ComparisonOperator = '<' | '<=' | '==' | '!=' | '>=' | '>';

/** `lost == 0`, `p99_ms < 200`, `load-1.ops_per_sec >= 100`: a metric, an operator, a number. */
export interface Assertion {
  /** As written in the file. */
  text: string;
  /** Phase whose figure is meant (`load-1.p99_ms`); absent: the scenario-wide figure. */
  phase?: string;
  metric: MetricName;
  op: ComparisonOperator;
  value: number;
}

/** Every figure an assertion can name, with what it means (shown by `cim scenario show` and in errors). */
export const METRICS = {
  lost: 'acknowledged events not found in the streams afterwards (checker)',
  unexpected: 'events found in the streams that no attempted command of the run caused (checker)',
  duplicates: 'events found more than once, or a command applied more than once (checker)',
  verify_findings: 'findings of chain and seal verification over the streams the run wrote',
  replica_divergences: 'divergences between the replicas of the streams the run wrote, each read from its own server',
  ops: 'operations acknowledged',
  errors: 'operations that failed',
  error_rate: 'failed / attempted operations',
  ops_per_sec: 'acknowledged operations per second',
  ratio_to_raw: 'ops_per_sec / raw JetStream publishes per second measured at the start of the same run',
  p50_ms: 'median latency (publish→ack or request→reply), ms',
  p90_ms: '90th percentile latency, ms',
  p99_ms: '99th percentile latency, ms',
  p999_ms: '99.9th percentile latency, ms',
  recovery_ms:
    'fault: from the fault firing until the delivered rate (acknowledgements over a sliding 1 s window, every 100 ms) is back within 10 % of the offered rate (the fixed rate; for rate: max, the median rate of the whole seconds before the fault, and only a rate below it counts) and stays there for 2 s, ms; 0 when it never dipped; not measured when it never recovered within the run',
  stall_ms: 'fault: the longest time without any acknowledgement from the fault firing until the load ended, ms',
  nodes_stayed_down: 'nodes that did not start again after a fault (a damaged store they refuse, or panic on)',
  unserved_after_fault:
    '1 when, after a fault, the system would not give its data back to the checker or verification (a stream that says it holds events no consumer delivers, JetStream unavailable); absent otherwise',
  replay_events_per_sec: 'replay: events applied per second',
  replay_ratio_to_raw: 'replay: events/s / raw ordered-consumer read of the same stream',
  http_to_nats_throughput: 'ops/s of the http phase / ops/s of the nats phase of the same mix in the same run',
  http_to_nats_p50_ms: 'p50 latency of that http phase / of that nats phase',
  http_to_nats_p99_ms: 'p99 latency of that http phase / of that nats phase',
  http_to_nats_p999_ms: 'p99.9 latency of that http phase / of that nats phase',
} as const;
export type MetricName = keyof typeof METRICS;
