// The report document (docs/architecture.md#reports): what every renderer reads and what the ledger stores. A
// report's CID is the CID of its dag-cbor encoding *without* `signature`, and the signature is
// Ed25519 over that CID's bytes — the same scheme as the event store's seals, so the CID names
// exactly what was signed. `reports/` knows nothing of how figures were measured: a performance
// report's `results` is whatever the bench handed over (scenarios' BenchResults), carried as is.
import type { CID } from 'multiformats/cid';

export const REPORT_VERSION = 1;

export type ReportKind = 'performance' | 'compliance' | 'retention' | 'audit';

/**
 * How much a finding matters. `error`, `warning` and `info` are a performance report's (and every
 * report written before the compliance checks); `critical`, `high`, `medium` and `low` a compliance
 * finding's, with `info` shared. Ordered worst first by SEVERITY_ORDER.
 */
export type Severity = 'critical' | 'high' | 'error' | 'medium' | 'warning' | 'low' | 'info';

/** Every severity, worst first: the order renderings list findings in. */
export const SEVERITY_ORDER: readonly Severity[] = ['critical', 'high', 'error', 'medium', 'warning', 'low', 'info'];

/** Severities that fail a run (a gate's exit, a JUnit failure): critical, high and error. */
export function failingSeverity(severity: Severity): boolean {
  return severity === 'critical' || severity === 'high' || severity === 'error';
}

export interface ReportFinding {
  /** Stable within its kind, e.g. `lost-events`, `gate-regression:steady-mixed:p99_ms`. */
  id: string;
  /** The compliance check that found it (compliance reports), e.g. `immutability`. */
  check?: string;
  severity: Severity;
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
  /**
   * The same tree head as a C2SP tlog-checkpoint signed note (origin, tree size, base64 root,
   * then the Ed25519 signature line), as also written to `<cid>.checkpoint`; absent in reports
   * written before notes were.
   */
  note?: string;
}

/** How a candidate compared with a baseline (written by `cim gate` / `cim bench --baseline`). */
export interface ReportBaseline {
  /** The baseline report's CID. */
  cid: CID;
  /** Per compared metric, the verdict; `regressed` ones are also findings. */
  comparisons: GateComparison[];
  /** True when any comparison regressed significantly. */
  regressed: boolean;
  /** Scenarios both runs measured (absent in older reports). */
  commonScenarios?: string[];
  /** The gate was told to accept comparisons without enough data (`--allow-missing`). */
  allowMissing?: boolean;
}

export interface GateComparison {
  scenario: string;
  metric: string;
  /** Which way is better for this metric. */
  better: 'higher' | 'lower';
  /**
   * Each side's central figure and how many repetitions it stands on. Since results v2: `center`,
   * the geometric mean of one figure per repetition. Older reports have `median`, the median of
   * per-second samples, instead.
   */
  baseline: { center?: number; median?: number; samples: number };
  candidate: { center?: number; median?: number; samples: number };
  /** candidate / baseline − 1 of the central figures; negative is worse for `higher`. */
  relativeChange: number;
  /** Confidence interval of the relative change. */
  confidenceInterval: [number, number];
  confidenceLevel: number;
  /** Two-sided p-value of the comparison alone. */
  pValue: number;
  /** The p-value after Holm's correction over every comparison of the gate (absent in older reports). */
  adjustedPValue?: number;
  threshold: number;
  /**
   * The smallest worsening (a share, like relativeChange but always positive) that this comparison
   * would call a regression with 80 % probability, from the spread of both sides' repetitions and
   * the number of comparisons the gate corrects for; what the gate can see. Absent without data.
   */
  detectable?: number;
  /** How it was compared: `welch-log` (Welch's t-test on the logs of per-repetition figures); absent in older reports (Mann–Whitney on seconds). */
  method?: 'welch-log';
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
export type RenderFormat = 'json' | 'md' | 'html' | 'junit' | 'bmf';
