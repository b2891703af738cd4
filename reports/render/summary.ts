// The figures every human-readable rendering shows, computed once: a row per scenario across the
// run, a line per phase, the faults, and the gate's comparisons with regressions first.
import type { GateComparison } from '../types.js';
import { DEFAULT_FAIL_ON, runVerdictOf, scenarioVerdict, type FailOn, type RunVerdict } from '../verdict.js';
import { count, decimal, MISSING, ms, percent, pValue, ratio, seconds, share } from './format.js';
import type { FaultPhaseView, PerformanceResultsView, PhaseView, ScenarioView } from './performance-view.js';

export const SUMMARY_HEADERS = [
  'scenario',
  'status',
  'ops/s',
  '× raw or offered',
  'p50 ms',
  'p99 ms',
  'lost',
  'unexp.',
  'dup.',
  'findings',
  'recovery',
  'longest stall',
  'replay × raw',
] as const;

export function summaryRow(s: ScenarioView): string[] {
  const m = s.metrics;
  return [
    s.scenario,
    scenarioVerdict(s).status,
    count(m.ops_per_sec),
    rateCell(s),
    decimal(m.p50_ms),
    decimal(m.p99_ms),
    count(m.lost ?? s.checker?.lost),
    count(m.unexpected ?? s.checker?.unexpected),
    count(m.duplicates ?? s.checker?.duplicates),
    count(m.verify_findings ?? s.verification?.findings),
    recoveryCell(s),
    seconds(m.stall_ms),
    ratio(m.replay_ratio_to_raw),
  ];
}

/** The scenario's recovery: the metric, or "none" when a fault's rate never came back within the run. */
function recoveryCell(s: ScenarioView): string {
  if (s.phases.some((p) => p.type === 'fault' && p.recovered === false)) return 'none';
  return ms(s.metrics.recovery_ms);
}

export function passed(s: ScenarioView): boolean {
  return scenarioVerdict(s).status === 'passed';
}

/** The run's verdict over the view's scenarios (reports/verdict.ts), and the policy it was run with. */
export function viewVerdict(view: PerformanceResultsView): RunVerdict & { failOn: FailOn } {
  return { ...runVerdictOf(view.scenarios, view.interrupted ?? false), failOn: view.failOn ?? DEFAULT_FAIL_ON };
}

/** How recovery and the longest stall are defined: written into every report that has a fault. */
export const RECOVERY_DEFINITION =
  'Recovery: from the fault firing until the delivered rate (acknowledgements over a sliding 1 s window, evaluated every 100 ms) ' +
  "is back within 10 % of the offered rate and stays there for 2 s. The offered rate is the load phases' fixed rate; for rate: max " +
  'it is the median rate of the whole seconds before the fault, and only a rate below it counts as a dip. "No dip": the rate never ' +
  'left that band (recovery 0). "Did not recover": it never stayed back for 2 s before the load ended. Longest stall: the longest ' +
  'time without any acknowledgement from the fault firing until the load ended.';

/** What recovery figures of a fault phase there are: the bench's results and the report's view both fit. */
export interface RecoveryFigures {
  recoveryMs?: number | undefined;
  recovered?: boolean | undefined;
  recoveryReference?: { perSec?: number | undefined; kind?: string | undefined } | undefined;
  dip?: boolean | undefined;
  recoveryNote?: string | undefined;
  stallMs?: number | undefined;
}

/** "recovery 5.8 s (back within 10 % of the offered 200/s for 2 s); longest stall 4.9 s"; empty when nothing was measured. */
export function recoveryText(p: RecoveryFigures): string {
  const parts: string[] = [];
  const ref = p.recoveryReference;
  const rate =
    ref?.perSec === undefined
      ? 'the offered rate'
      : ref.kind === 'before-fault'
        ? `the ${count(ref.perSec)}/s before the fault`
        : `the offered ${count(ref.perSec)}/s`;
  if (p.recovered === undefined) {
    // Results from before recovery was read off the delivered rate.
    if (p.recoveryMs !== undefined)
      parts.push(`recovery ${ms(p.recoveryMs)} (old measure: first failed operation to the next acknowledgement)`);
  } else if (!p.recovered) {
    parts.push(
      p.recoveryNote
        ? `recovery not measured: ${p.recoveryNote}`
        : `did not recover within the run (never back within 10 % of ${rate} for 2 s)`,
    );
  } else if (p.dip === false) {
    parts.push(`no dip: recovery 0 ms (the rate stayed within 10 % of ${rate})`);
  } else if (p.recoveryMs !== undefined) {
    parts.push(`recovery ${seconds(p.recoveryMs)} (back within 10 % of ${rate} for 2 s)`);
  }
  if (p.stallMs !== undefined) parts.push(`longest stall ${seconds(p.stallMs)}`);
  return parts.join('; ');
}

/**
 * Delivered ÷ offered of a scenario whose load phases all ran at a fixed rate: acknowledged ops/s
 * over the rates asked for. Undefined when a phase ran at full speed (rate: max) or none ran.
 */
export function deliveredToOffered(s: ScenarioView): { share: number; rate: string } | undefined {
  const loads = s.phases.filter((p) => p.type === 'load' && !p.error);
  let offered = 0;
  let delivered = 0;
  const rates = new Set<number>();
  for (const p of loads) {
    if (p.type !== 'load' || typeof p.rate !== 'number') return undefined;
    // Operations over the phase's own time: phases one after another, or overlapping, each count for theirs.
    const seconds = Math.max(0, ((p.endedAtMs ?? 0) - (p.startedAtMs ?? 0)) / 1_000);
    offered += p.rate * seconds;
    delivered += (p.opsPerSec ?? 0) * seconds;
    rates.add(p.rate);
  }
  if (!(offered > 0)) return undefined;
  return { share: delivered / offered, rate: rates.size === 1 ? `${count([...rates][0])}/s` : 'the offered rates' };
}

/**
 * The headline's rate cell: at full speed, ops/s ÷ the raw publish rate of the run (`0.62×`); at a
 * fixed rate, what was delivered of what was offered (`99.6 % of 150/s`) — there, ops/s ÷ raw is
 * the offered load over capacity, not a measure of the system.
 */
function rateCell(s: ScenarioView): string {
  const fixed = deliveredToOffered(s);
  if (fixed) return `${share(fixed.share)} of ${fixed.rate}`;
  return ratio(s.metrics.ratio_to_raw);
}

/**
 * What a ramp found (fixed-rate steps, then full speed, as ramp-to-saturation runs): the capacity —
 * the full-speed phase's ops/s — and the highest fixed rate delivered in full (at least 95 % of it).
 * Undefined for a scenario without both kinds of load phase.
 */
export function rampCapacity(
  s: ScenarioView,
): { capacity: number; phase: string; sustained: number | undefined } | undefined {
  const loads = s.phases.flatMap((p) => (p.type === 'load' && !p.error ? [p] : []));
  const full = loads.filter((p) => p.rate === 'max' && typeof p.opsPerSec === 'number');
  const fixed = loads.filter((p) => typeof p.rate === 'number' && p.rate > 0);
  if (full.length === 0 || fixed.length === 0) return undefined;
  const top = full.reduce((a, b) => ((b.opsPerSec ?? 0) > (a.opsPerSec ?? 0) ? b : a));
  const held = fixed.filter((p) => (p.opsPerSec ?? 0) >= 0.95 * (p.rate as number)).map((p) => p.rate as number);
  return { capacity: top.opsPerSec!, phase: top.name, sustained: held.length > 0 ? Math.max(...held) : undefined };
}

/** "capacity found: 1,840 ops/s at full speed (rate-max); the highest fixed rate delivered in full: 800/s" */
export function rampLine(c: NonNullable<ReturnType<typeof rampCapacity>>): string {
  return (
    `capacity found: ${count(c.capacity)} ops/s at full speed (${c.phase}); ` +
    `the highest fixed rate delivered in full (≥ 95 %): ${c.sustained === undefined ? 'none' : `${count(c.sustained)}/s`}`
  );
}

/**
 * The ratios to the raw baseline a scenario's phases reached: load ops/s ÷ raw publish (phases at
 * full speed only: a fixed rate's ratio is what was offered), replay events/s ÷ raw read.
 */
export function phaseRatios(s: ScenarioView): { label: string; value: number; kind: 'load' | 'replay' }[] {
  const out: { label: string; value: number; kind: 'load' | 'replay' }[] = [];
  for (const p of s.phases) {
    if (p.type === 'load' && p.rate === 'max')
      out.push({ label: `${p.name} (load)`, value: p.ratioToRaw ?? NaN, kind: 'load' });
    if (p.type === 'replay')
      out.push({ label: `${p.name} (replay)`, value: p.replay?.replayToRaw ?? NaN, kind: 'replay' });
  }
  return out;
}

/** The lowest ratio to raw across the run, and where. */
export function worstRatio(
  view: PerformanceResultsView,
): { scenario: string; label: string; value: number } | undefined {
  let worst: { scenario: string; label: string; value: number } | undefined;
  for (const s of view.scenarios) {
    for (const r of phaseRatios(s))
      if (Number.isFinite(r.value) && r.value > 0 && (!worst || r.value < worst.value))
        worst = { scenario: s.scenario, ...r };
  }
  return worst;
}

/** What of a load phase the HTTP-vs-NATS comparison reads; the bench's results and the report's view both fit. */
export interface ComparableLoad {
  type: string;
  name: string;
  driver?: string | undefined;
  /** The phase's command mix, one canonical string (`person.RenamePerson×3, …`): equal strings, equal mixes. */
  mix?: string | undefined;
  opsPerSec?: number | undefined;
  latency?: { p50Ms?: number | undefined; p99Ms?: number | undefined; p999Ms?: number | undefined } | undefined;
  error?: unknown;
}

/** An `http` phase beside the `nats` phase with the same mix in the same run: each figure as http ÷ nats. */
export interface DriverComparison {
  http: string;
  nats: string;
  /** Throughput ratio: above 1, HTTP acknowledged more per second. */
  throughput: number;
  /** Latency ratios: above 1, HTTP was slower. */
  p50: number;
  p99: number;
  p999: number;
}

const quotient = (a: number | undefined, b: number | undefined): number =>
  a !== undefined && b !== undefined && b > 0 ? a / b : NaN;

/** Each `http` load phase that ran without error paired with the first such `nats` phase of the same mix. */
export function driverComparisons(phases: readonly ComparableLoad[]): DriverComparison[] {
  const loads = phases.filter((p) => p.type === 'load' && !p.error && p.mix !== undefined);
  const out: DriverComparison[] = [];
  for (const http of loads.filter((p) => p.driver === 'http')) {
    const nats = loads.find((p) => p.driver === 'nats' && p.mix === http.mix);
    if (!nats) continue;
    out.push({
      http: http.name,
      nats: nats.name,
      throughput: quotient(http.opsPerSec, nats.opsPerSec),
      p50: quotient(http.latency?.p50Ms, nats.latency?.p50Ms),
      p99: quotient(http.latency?.p99Ms, nats.latency?.p99Ms),
      p999: quotient(http.latency?.p999Ms, nats.latency?.p999Ms),
    });
  }
  return out;
}

/** "http ÷ nats (steady-http ÷ steady-nats, same mix): throughput 0.82×, p50 1.31×, p99 1.20×, p99.9 1.10×" */
export function driverComparisonLine(c: DriverComparison): string {
  return (
    `http ÷ nats (${c.http} ÷ ${c.nats}, same mix): throughput ${ratio(c.throughput)}, ` +
    `p50 ${ratio(c.p50)}, p99 ${ratio(c.p99)}, p99.9 ${ratio(c.p999)}`
  );
}

/** What a phase did, in one line. */
export function phaseLine(p: PhaseView): string {
  if (p.error) return `error ${p.error.code}: ${p.error.message}`;
  switch (p.type) {
    case 'load': {
      const target =
        p.rate === 'max'
          ? `max, ${count(p.concurrency)} in flight`
          : p.rate === undefined
            ? MISSING
            : `${count(p.rate)}/s`;
      const errors = (p.failed ?? 0) + (p.unknown ?? 0);
      const versus =
        typeof p.rate === 'number' && p.rate > 0
          ? `${share((p.opsPerSec ?? NaN) / p.rate)} of offered`
          : `${ratio(p.ratioToRaw)} raw`;
      return (
        `${p.driver ?? MISSING} at ${target}: ${count(p.opsPerSec)} ops/s = ${versus}; ` +
        `p50 ${ms(p.latency?.p50Ms)}, p99 ${ms(p.latency?.p99Ms)}, p99.9 ${ms(p.latency?.p999Ms)}; ${count(p.ok)} ok, ${count(errors)} errors`
      );
    }
    case 'fault':
      return p.fault ? faultLine(p) : 'no fault recorded';
    case 'replay': {
      const r = p.replay;
      if (!r) return `${p.projection ?? MISSING}: no replay recorded`;
      return `${p.projection ?? MISSING}: ${count(r.replay?.perSecond)} events/s = ${ratio(r.replayToRaw)} raw read (${count(r.bestRaw?.perSecond)}/s, pull ${count(r.bestRaw?.batch)}); ${count(r.replay?.events)} events`;
    }
    case 'check':
      return 'assertions evaluated';
  }
}

export function faultLine(p: FaultPhaseView): string {
  const f = p.fault;
  if (!f) return `${p.name}: no fault recorded`;
  const healed = f.healedAtMs === undefined ? 'not healed' : `healed at ${seconds(f.healedAtMs)}`;
  const recovery = recoveryText(p);
  return `${f.detail || f.action} — fired at ${seconds(f.firedAtMs)}, ${healed}${recovery ? `; ${recovery}` : ''}`;
}

export function faultLabel(p: FaultPhaseView): string {
  return p.fault ? [p.fault.action, ...p.fault.nodes].join(' ') : p.name;
}

/** "embedded, 3 node(s) of nats-server 2.9.10, R3, sync_interval server default" */
export function clusterLine(s: ScenarioView): string | undefined {
  const c = s.cluster;
  if (!c) return undefined;
  const versions = [...new Set(c.servers.map((v) => v.version).filter(Boolean))].join(', ') || MISSING;
  return `${c.mode ?? MISSING}, ${count(c.nodes)} node(s) of nats-server ${versions}, R${count(c.replicas)}, sync_interval ${c.syncIntervalInEffect ?? MISSING}`;
}

/** The raw JetStream rates the scenario's figures are ratios to. */
export function rawBaselineLine(s: ScenarioView): string | undefined {
  const b = s.baseline;
  if (!b) return undefined;
  return `publish ${count(b.publish?.perSecond)} msgs/s, ordered read ${count(b.read?.perSecond)} msgs/s (${count(b.payloadBytes)} B, ${count(b.inFlight)} in flight)`;
}

/** Failed operations by error code, over every load phase of the scenario. */
export function errorsByCode(s: ScenarioView): [string, number][] {
  const errors = new Map<string, number>();
  for (const p of s.phases)
    if (p.type === 'load')
      for (const [code, n] of Object.entries(p.errorsByCode)) errors.set(code, (errors.get(code) ?? 0) + n);
  return [...errors];
}

export function checkMeasured(actual: number | null): string {
  return actual === null ? 'not measured' : decimal(actual);
}

export const GATE_HEADERS = [
  'scenario',
  'metric',
  'baseline',
  'candidate',
  'change',
  'CI',
  'p (Holm)',
  'verdict',
] as const;

const VERDICT_ORDER: Record<GateComparison['verdict'], number> = {
  regressed: 0,
  'insufficient-data': 1,
  unchanged: 2,
  improved: 3,
};

/** Regressions first, then the undecided, then the rest; stable within each. */
export function orderedComparisons(comparisons: readonly GateComparison[]): GateComparison[] {
  return comparisons
    .map((c, i) => ({ c, i }))
    .sort((a, b) => VERDICT_ORDER[a.c.verdict] - VERDICT_ORDER[b.c.verdict] || a.i - b.i)
    .map(({ c }) => c);
}

/** A side's central figure: the geometric mean of its repetitions, or in older reports the median of its seconds. */
export function gateCenter(side: GateComparison['baseline']): number {
  return side.center ?? side.median ?? 0;
}

export function gateRow(c: GateComparison): string[] {
  const level = Number.isFinite(c.confidenceLevel) ? `${share(c.confidenceLevel)} ` : '';
  return [
    c.scenario,
    `${c.metric} (${c.better} is better)`,
    `${decimal(gateCenter(c.baseline))} (n=${count(c.baseline.samples)})`,
    `${decimal(gateCenter(c.candidate))} (n=${count(c.candidate.samples)})`,
    percent(c.relativeChange),
    `${level}[${percent(c.confidenceInterval[0])}, ${percent(c.confidenceInterval[1])}]`,
    pValue(c.adjustedPValue ?? c.pValue),
    c.verdict,
  ];
}

/** "2 × AMD EPYC, 24 GiB, node v20 …": where the report was produced. */
export function environmentLine(env: {
  node?: string;
  platform?: string;
  cpu?: { model?: string; cores?: number };
  memoryBytes?: number;
  gitRevision?: string;
  appliance?: string;
  natsServers?: { name: string; version?: string; source?: string; goVersion?: string }[];
  kernel?: string;
  natsJs?: string;
  natscli?: string;
  storeFileSystem?: string;
}): string {
  const parts = [
    `node ${env.node ?? MISSING}`,
    env.platform ?? MISSING,
    `${count(env.cpu?.cores)} × ${env.cpu?.model ?? MISSING}`,
    typeof env.memoryBytes === 'number' ? `${Math.round(env.memoryBytes / 2 ** 30)} GiB` : MISSING,
    env.appliance ?? MISSING,
  ];
  if (env.gitRevision) parts.push(`git ${env.gitRevision.slice(0, 12)}`);
  if (env.kernel) parts.push(`kernel ${env.kernel}`);
  if (env.storeFileSystem) parts.push(`stores on ${env.storeFileSystem}`);
  if (env.natsJs) parts.push(`nats.js ${env.natsJs}`);
  if (env.natscli) parts.push(`natscli ${env.natscli}`);
  const servers = env.natsServers ?? [];
  // One entry per version and origin: the node names repeat in every scenario.
  const builds = [
    ...new Set(
      servers.map(
        (s) => `${s.version ?? MISSING}${s.source ? ` (${s.source}${s.goVersion ? `, ${s.goVersion}` : ''})` : ''}`,
      ),
    ),
  ];
  if (servers.length > 0)
    parts.push(`nats-server ${builds.join(', ')} on ${new Set(servers.map((s) => s.name)).size} node(s)`);
  return parts.join(', ');
}

/**
 * A version matrix (`cim bench --servers`) side by side: a row per scenario and headline figure,
 * a column per server, in the order asked for. Undefined for a run on one server.
 */
export function matrixTable(view: PerformanceResultsView): string[][] | undefined {
  const servers = view.servers;
  if (!servers || servers.length === 0) return undefined;
  const byScenario = new Map<string, Map<string, ScenarioView>>();
  for (const s of view.scenarios) {
    if (s.server === undefined) continue;
    const base = s.scenario.endsWith(`@${s.server}`) ? s.scenario.slice(0, -(s.server.length + 1)) : s.scenario;
    if (!byScenario.has(base)) byScenario.set(base, new Map());
    byScenario.get(base)!.set(s.server, s);
  }
  const figures: [string, (s: ScenarioView) => string][] = [
    ['verdict', (s) => scenarioVerdict(s).status],
    [
      'nats-server',
      (s) => [...new Set(s.cluster?.servers.map((v) => v.version).filter(Boolean))].join(', ') || MISSING,
    ],
    ['raw publish msgs/s', (s) => count(s.baseline?.publish?.perSecond)],
    ['ops/s', (s) => count(s.metrics.ops_per_sec)],
    ['× raw', (s) => ratio(s.metrics.ratio_to_raw)],
    ['p99 ms', (s) => decimal(s.metrics.p99_ms)],
    ['lost', (s) => count(s.metrics.lost ?? s.checker?.lost)],
    ['findings', (s) => count(s.metrics.verify_findings ?? s.verification?.findings)],
    ['recovery', recoveryCell],
    ['longest stall', (s) => seconds(s.metrics.stall_ms)],
    ['replay × raw', (s) => ratio(s.metrics.replay_ratio_to_raw)],
  ];
  const rows: string[][] = [['scenario', 'figure', ...servers]];
  for (const [scenario, results] of byScenario) {
    for (const [label, figure] of figures) {
      const cells = servers.map((server) => {
        const s = results.get(server);
        return s ? figure(s) : 'not run';
      });
      // Rows with no figure on any server say nothing.
      if (label !== 'verdict' && cells.every((c) => c === MISSING)) continue;
      rows.push([scenario, label, ...cells]);
    }
  }
  return rows;
}
