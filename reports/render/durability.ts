// The durability table (the `durability` suite's result): per server version and fault kind — bit
// flips, truncation, every node killed with the default sync_interval or with `always` — how many
// runs lost acknowledged writes and how many, diverged between replicas, left a node down, or
// showed a client an error. Built from the results alone, so every rendering shows the same table.
import { count } from './format.js';
import type { PerformanceResultsView, ScenarioView } from './performance-view.js';

/** The faults the table is about; a scenario with none of them is not in it. */
export type DurabilityKind = 'bit-flips' | 'truncation' | 'kill-all-default' | 'kill-all-always';

const KIND_ORDER: readonly DurabilityKind[] = ['bit-flips', 'truncation', 'kill-all-default', 'kill-all-always'];

/** What a scenario's faults make it, or undefined when it is no durability run. */
export function durabilityKind(s: ScenarioView): { kind: DurabilityKind; label: string } | undefined {
  for (const phase of s.phases) {
    if (phase.type !== 'fault' || !phase.fault) continue;
    const fault = phase.fault;
    if (fault.action === 'corrupt') {
      const c = fault.corruption;
      if (c?.mode === 'truncate')
        return { kind: 'truncation', label: `truncation${c.bytes !== undefined ? ` (${c.bytes} B)` : ''}` };
      return { kind: 'bit-flips', label: `bit flips${c?.bytes !== undefined ? ` (${c.bytes})` : ''}` };
    }
    const nodes = s.cluster?.nodes ?? s.cluster?.servers.length;
    if (fault.action === 'kill' && nodes !== undefined && nodes > 1 && fault.nodes.length >= nodes) {
      const sync = s.cluster?.syncIntervalInEffect;
      const always = sync === 'always';
      return {
        kind: always ? 'kill-all-always' : 'kill-all-default',
        label: `kill all, sync_interval ${always ? 'always' : (sync ?? 'server default')}`,
      };
    }
  }
  return undefined;
}

/** The figures of one row: a fault kind (one scenario, all its seeds) on one server version. */
export interface DurabilityRow {
  server: string;
  /** The scenario's name without its seed (`#n`) and server (`@v`) suffixes. */
  scenario: string;
  kind: DurabilityKind;
  label: string;
  runs: number;
  /** Runs whose status is error or interrupted: their figures may be partial or missing. */
  broken: number;
  /** Runs with a checker figure, and of them those that lost acknowledged events. */
  lostMeasured: number;
  lostRuns: number;
  lostSum: number;
  lostMax: number;
  /** Runs with a replica comparison, and of them those with at least one divergence. */
  divergenceMeasured: number;
  divergenceRuns: number;
  /** Runs whose chains and seals were verified after the fault, and of them those with findings. */
  verifyMeasured: number;
  verifyRuns: number;
  /** Runs where a node did not start again after the fault (its `stayedDown`, or the metric `nodes_stayed_down`). */
  stayedDownRuns: number;
  /** Runs where the load saw failed or unanswered operations, and how many in all. */
  clientErrorRuns: number;
  clientErrors: number;
}

/** The server a result ran on: the matrix's name for it, else the versions its cluster reported. */
function serverOf(s: ScenarioView): string {
  if (s.server !== undefined) return s.server;
  const versions = [...new Set(s.cluster?.servers.map((v) => v.version).filter(Boolean))];
  return versions.join(', ') || 'unknown version';
}

/** `durability-bit-flips#3@2.12.1` → `durability-bit-flips`. */
function baseName(s: ScenarioView): string {
  const name =
    s.server !== undefined && s.scenario.endsWith(`@${s.server}`)
      ? s.scenario.slice(0, -(s.server.length + 1))
      : s.scenario;
  return name.replace(/#\d+$/, '');
}

function lostOf(s: ScenarioView): number | undefined {
  return s.metrics.lost ?? s.checker?.lost;
}

function verifyFindingsOf(s: ScenarioView): number | undefined {
  return s.metrics.verify_findings ?? s.verification?.findings;
}

function divergencesOf(s: ScenarioView): number | undefined {
  return s.replicas ? s.replicas.divergences.length : s.metrics.replica_divergences;
}

/** The rows, per server (in the order the run named them), then per fault kind. */
export function durabilityRows(view: PerformanceResultsView): DurabilityRow[] {
  const rows = new Map<string, DurabilityRow>();
  // A run that broke before its fault fired records no fault: it counts (as broke) under the kind
  // its scenario's other runs show, not nowhere.
  const kindOf = new Map<string, NonNullable<ReturnType<typeof durabilityKind>>>();
  for (const s of view.scenarios) {
    const kind = durabilityKind(s);
    if (kind && !kindOf.has(baseName(s))) kindOf.set(baseName(s), kind);
  }
  for (const s of view.scenarios) {
    const kind = durabilityKind(s) ?? kindOf.get(baseName(s));
    if (!kind) continue;
    const server = serverOf(s);
    const scenario = baseName(s);
    const key = `${server}\u0000${scenario}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        server,
        scenario,
        ...kind,
        runs: 0,
        broken: 0,
        lostMeasured: 0,
        lostRuns: 0,
        lostSum: 0,
        lostMax: 0,
        divergenceMeasured: 0,
        divergenceRuns: 0,
        verifyMeasured: 0,
        verifyRuns: 0,
        stayedDownRuns: 0,
        clientErrorRuns: 0,
        clientErrors: 0,
      };
      rows.set(key, row);
    }
    row.runs++;
    if (s.status === 'error' || s.status === 'interrupted') row.broken++;
    const lost = lostOf(s);
    if (lost !== undefined) {
      row.lostMeasured++;
      if (lost > 0) row.lostRuns++;
      row.lostSum += lost;
      row.lostMax = Math.max(row.lostMax, lost);
    }
    const divergences = divergencesOf(s);
    if (divergences !== undefined) {
      row.divergenceMeasured++;
      if (divergences > 0) row.divergenceRuns++;
    }
    const findings = verifyFindingsOf(s);
    if (findings !== undefined) {
      row.verifyMeasured++;
      if (findings > 0) row.verifyRuns++;
    }
    if (
      s.phases.some((p) => p.type === 'fault' && p.fault?.stayedDown === true) ||
      (s.metrics.nodes_stayed_down ?? 0) > 0
    )
      row.stayedDownRuns++;
    const errors = s.phases.reduce((n, p) => n + (p.type === 'load' ? (p.failed ?? 0) + (p.unknown ?? 0) : 0), 0);
    if (errors > 0) row.clientErrorRuns++;
    row.clientErrors += errors;
  }
  const serverOrder = view.servers ?? [];
  const rank = (server: string) => {
    const i = serverOrder.indexOf(server);
    return i === -1 ? serverOrder.length : i;
  };
  const firstSeen = [...rows.values()].map((r) => r.server);
  return [...rows.values()].sort(
    (a, b) =>
      rank(a.server) - rank(b.server) ||
      firstSeen.indexOf(a.server) - firstSeen.indexOf(b.server) ||
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
      a.scenario.localeCompare(b.scenario),
  );
}

export const DURABILITY_HEADERS = [
  'server',
  'fault',
  'runs',
  'runs with acked writes lost',
  'lost (sum)',
  'lost (max)',
  'runs with replica divergence',
  'runs with verification findings',
  'runs with a node down',
  'client errors (runs)',
] as const;

/** `3`, `3 of 8` when only 8 of the runs measured it, `not measured` when none did. */
function ofMeasured(n: number, measured: number, runs: number): string {
  if (measured === 0) return 'not measured';
  return measured < runs ? `${count(n)} of ${count(measured)}` : count(n);
}

export function durabilityCells(r: DurabilityRow): string[] {
  const lostKnown = r.lostMeasured > 0;
  return [
    r.server,
    r.label,
    r.broken > 0 ? `${count(r.runs)} (${count(r.broken)} broke)` : count(r.runs),
    ofMeasured(r.lostRuns, r.lostMeasured, r.runs),
    lostKnown ? count(r.lostSum) : 'not measured',
    lostKnown ? count(r.lostMax) : 'not measured',
    ofMeasured(r.divergenceRuns, r.divergenceMeasured, r.runs),
    ofMeasured(r.verifyRuns, r.verifyMeasured, r.runs),
    count(r.stayedDownRuns),
    r.clientErrorRuns > 0 ? `yes: ${count(r.clientErrorRuns)} (${count(r.clientErrors)} ops)` : 'none',
  ];
}

/** The table as every rendering shows it: headers, rows of cells, and the notes that say what they mean. */
export interface DurabilityTable {
  headers: readonly string[];
  rows: string[][];
  notes: string[];
}

/** The durability table of a run, or undefined when no scenario of it corrupted a replica or killed every node. */
export function durabilityTable(view: PerformanceResultsView): DurabilityTable | undefined {
  const rows = durabilityRows(view);
  if (rows.length === 0) return undefined;
  const notes = [
    'A row is one fault on one server version over all its seeds, each run on a fresh cluster. ' +
      'Acked lost: acknowledged events the checker did not read back. Replica divergence: a replica whose copy of a stream differs from the others, read one by one. ' +
      'Verification findings: chain or seal findings of `cim verify` over the streams after the run (events a seal names that are gone, broken chains). ' +
      'A node down: a node that did not start again after the fault. Client errors: operations of the load that failed or got no answer (runs, and operations in all).',
  ];
  if (rows.some((r) => r.kind === 'kill-all-default' || r.kind === 'kill-all-always'))
    notes.push(
      'Kill all is a process crash (SIGKILL of every node at once): the kernel’s page cache survives it, so what a server wrote but had not fsynced still reaches the disk. Power loss is not simulated.',
    );
  if (rows.some((r) => r.divergenceMeasured === 0))
    notes.push('Not measured: those results carry no replica comparison.');
  if (rows.some((r) => r.verifyMeasured === 0))
    notes.push('Verification not measured: those results carry no verification.');
  if (rows.some((r) => r.broken > 0))
    notes.push('Broke: runs that ended in error or were interrupted; their figures may be missing.');
  return { headers: DURABILITY_HEADERS, rows: rows.map(durabilityCells), notes };
}
