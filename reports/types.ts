// The report document (docs/architecture.md#reports): what every renderer reads and what the ledger stores. A
// report's CID is the CID of its dag-cbor encoding *without* `signature`, and the signature is
// Ed25519 over that CID's bytes — the same scheme as the event store's seals, so the CID names
// exactly what was signed. `reports/` knows nothing of how figures were measured: a performance
// report's `results` is whatever the bench handed over (scenarios' BenchResults), carried as is.
import type { CID } from 'multiformats/cid';

export const REPORT_VERSION = 1;

export type ReportKind = 'performance' | 'compliance' | 'retention' | 'audit';

/**
 * `info|warning|error` for performance reports; a compliance finding's `critical|high|medium|low|info`
 * (compliance/findings.ts), carried as they are.
 */
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info' | 'warning' | 'error';

/** The severities that fail: a finding of one makes its report's JUnit case a failure. */
export const FAILING_SEVERITIES: readonly Severity[] = ['critical', 'high', 'error'];

/** Most severe first, as renderings list them. */
export const SEVERITY_ORDER: readonly Severity[] = ['critical', 'high', 'error', 'medium', 'warning', 'low', 'info'];

export interface ReportFinding {
  /** Stable within its kind, e.g. `lost-events`, `gate-regression:steady-mixed:p99_ms`. */
  id: string;
  severity: Severity;
  /** A compliance finding's check (compliance reports). */
  check?: string;
  message: string;
  /** What shows it: figures, CIDs, sequences. Plain data (dag-cbor encodable). */
  evidence?: unknown;
}

/** Where the report was produced. */
export interface ReportEnvironment {
  node: string;
  platform: string;
  cpu: { model: string; cores: number };
  memoryBytes: number;
  gitRevision?: string;
  appliance: string;
  /** NATS servers seen by the run, with their versions and, for embedded clusters, where the binary came from. */
  natsServers: { name: string; version?: string; source?: string; goVersion?: string }[];
  kernel?: string;
  natsJs?: string;
  natscli?: string;
  storeFileSystem?: string;
  /** Said of the run as a whole, e.g. that its servers are older than the supported releases. */
  notes?: string[];
}

/**
 * A signed checkpoint over event CIDs (compliance and audit reports): the RFC 6962 tree size and
 * root over every event CID the report covers, in stream order per domain, and a consistency
 * proof from the previous report's checkpoint (absent for the first).
 */
export interface ReportCheckpoint {
  treeSize: number;
  root: Uint8Array;
  /** The previous report's checkpoint this one extends. */
  previous?: { treeSize: number; root: Uint8Array };
  consistencyProof?: Uint8Array[];
}

/** How a candidate compared with a baseline (written by `cim gate` / `cim bench --baseline`). */
export interface ReportBaseline {
  /** The baseline report's CID. */
  cid: CID;
  /** Per compared metric, the verdict; `regressed` ones are also findings. */
  comparisons: GateComparison[];
  /** True when any comparison regressed significantly. */
  regressed: boolean;
}

export interface GateComparison {
  scenario: string;
  metric: string;
  /** Which way is better for this metric. */
  better: 'higher' | 'lower';
  baseline: { median: number; samples: number };
  candidate: { median: number; samples: number };
  /** (candidate − baseline) / baseline of the medians; negative is worse for `higher`. */
  relativeChange: number;
  /** Bootstrap confidence interval of the relative change of the medians. */
  confidenceInterval: [number, number];
  confidenceLevel: number;
  /** Mann–Whitney U two-sided p-value of the per-second samples. */
  pValue: number;
  threshold: number;
  verdict: 'improved' | 'unchanged' | 'regressed' | 'insufficient-data';
}

/** The document without its signature: what the CID names. */
export interface ReportBody {
  v: typeof REPORT_VERSION;
  kind: ReportKind;
  title: string;
  /** RFC 3339, UTC. */
  createdAt: string;
  environment: ReportEnvironment;
  /** The effective configuration of the run (no secrets). */
  config: Record<string, unknown>;
  /** Names of the scenarios run (performance reports). */
  scenario?: string[];
  /** Kind-specific figures: for `performance`, the bench's results document as it was handed over. */
  results: unknown;
  findings: ReportFinding[];
  baseline?: ReportBaseline;
  checkpoint?: ReportCheckpoint;
  /** CID of the previous report of the same kind in the ledger; null for the first. */
  prev: CID | null;
  /** Key id of the signer (`ed25519:…`, as the event store's keys are named). */
  signer: string;
}

export interface Report extends ReportBody {
  /** Ed25519 over the bytes of the body's CID. */
  signature: Uint8Array;
}

/** A report with its name. */
export interface NamedReport {
  report: Report;
  cid: CID;
}

/** The renderings written beside the canonical CBOR. */
export type RenderFormat = 'json' | 'md' | 'html' | 'junit';
