// What a compliance check returns (docs/architecture.md#compliance-checks): findings an auditor can
// re-check from their evidence, and what the check examined. The shapes are shared by every check,
// the `cim comply` verb and the compliance report.
import type { NatsConnection } from 'nats';
import type {
  ApplianceConfig,
  Domain,
  EmbeddedCluster,
  NatsEndpoint,
  NatsRole,
  Subjects,
  Verifier,
} from '../appliance/index.js';

export type CheckName = 'immutability' | 'retention' | 'erasure' | 'access' | 'audit-completeness' | 'durability';

export const CHECK_NAMES: readonly CheckName[] = [
  'immutability',
  'retention',
  'erasure',
  'access',
  'audit-completeness',
  'durability',
];

export type FindingSeverity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/** Most severe first: the order findings are listed and tables counted in. */
export const SEVERITIES: readonly FindingSeverity[] = ['critical', 'high', 'medium', 'low', 'info'];

export interface ComplianceFinding {
  /** Stable: the check, the kind and what it is about, e.g. `immutability:missing-event:CIM_PERSON:57`. */
  id: string;
  check: CheckName;
  severity: FindingSeverity;
  message: string;
  /** Plain dag-cbor-encodable data: stream, sequence ranges, CIDs as strings, the config read. */
  evidence: unknown;
}

export interface CheckOutcome {
  check: CheckName;
  findings: ComplianceFinding[];
  /** What was looked at, e.g. `{events: N, streams: M}`. */
  examined: Record<string, number>;
  /** What the check saw as a whole (the access matrix, the server table), for the report. */
  evidence?: unknown;
}

export interface ComplianceCheck {
  name: CheckName;
  title: string;
  run(ctx: CheckContext, progress?: (done: number, total?: number) => void): Promise<CheckOutcome>;
}

/** How the checks reach the cluster: the servers, each role's endpoint, and the embedded cluster's handle. */
export interface CheckCluster {
  mode: 'attached' | 'embedded-running' | 'embedded-own';
  servers: string[];
  endpointFor(role: NatsRole): NatsEndpoint;
  /** The embedded cluster (its monitoring endpoints); undefined when attached. */
  embedded: EmbeddedCluster | undefined;
  nodeCount: number;
}

export interface CheckContext {
  config: ApplianceConfig;
  subjects: Subjects;
  cluster: CheckCluster;
  /** The served domains (reference domains and plugins). */
  domains: readonly Domain<unknown>[];
  /** Keys whose seal signatures are accepted (the state dir's, plus any given). */
  trusted: readonly Verifier[];
  /** A connection as `role`, opened on first use and shared; closed by whoever made the context. */
  connect(role: NatsRole): Promise<NatsConnection>;
  /** Work several checks need (the audit log read, the access matrix) done once per run. */
  once<T>(key: string, work: () => Promise<T>): Promise<T>;
  /** Events after the last seal older than this are a finding (default 1 h). */
  maxUnsealedAgeMs: number;
  now(): Date;
}
