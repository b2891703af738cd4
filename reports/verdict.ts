// The one verdict model of a scenario run (docs/architecture.md#verdicts): a scenario's status and
// the findings behind it, computed from its recorded figures, and the run's verdict from its
// scenarios'. The runner stores what this decides; every rendering (terminal, HTML, Markdown,
// JUnit) and `cim bench`'s exit code call it again on what they read, so they cannot disagree —
// and a report written before the `finding` verdict existed gets it from its stored figures.
// Structural input only: reports/ never imports scenarios/, and both the bench's results and the
// report's lenient view fit.

/** What a scenario came to, from worst to best: see VERDICT_PRECEDENCE. */
export type Verdict = 'passed' | 'failed' | 'finding' | 'error' | 'interrupted' | 'skipped';

/** What fails a run (`cim bench --fail-on`): failed checks only, or findings as well. */
export type FailOn = 'failed' | 'finding';
export const FAIL_ON_VALUES: readonly FailOn[] = ['failed', 'finding'];
export const DEFAULT_FAIL_ON: FailOn = 'failed';

/**
 * Worst first. `skipped` ranks below `passed`: a skipped scenario measured nothing, so it neither
 * spoils a run nor makes one pass — a run where every scenario was skipped is `skipped`.
 */
export const VERDICT_PRECEDENCE: readonly Verdict[] = [
  'interrupted',
  'error',
  'failed',
  'finding',
  'passed',
  'skipped',
];

/** What each verdict means, as the reports and `--help` say it. */
export const VERDICT_MEANING: Record<Verdict, string> = {
  passed: 'every assertion of its check phases held and the system under test showed no misbehaviour',
  failed: 'an assertion of a check phase did not hold',
  finding:
    'every assertion held (or it has none), but the system under test misbehaved: acknowledged events lost, unexpected or duplicated, verification findings, replicas that diverge, a node that did not start again, or data it would not give back after a fault',
  error: 'the run itself broke (the scenario could not be measured)',
  interrupted: 'stopped by Ctrl-C: the figures cover what was measured until then',
  skipped: 'not run (e.g. a fault scenario on an attached cluster)',
};

/** The metrics whose being above 0 is a finding. */
export const FINDING_METRICS = [
  'lost',
  'unexpected',
  'duplicates',
  'verify_findings',
  'replica_divergences',
  'nodes_stayed_down',
  'unserved_after_fault',
] as const;

/** What the verdict reads of a scenario's result; the bench's `ScenarioResult` and the report's view both fit. */
export interface VerdictInput {
  /** As recorded. Only `interrupted`, `error` and `skipped` are taken from it: they cannot be derived from figures. */
  status?: string | undefined;
  metrics: Readonly<Record<string, number>>;
  checks: readonly { ok: boolean }[];
  checker?: { lost?: number | undefined; unexpected?: number | undefined; duplicates?: number | undefined } | undefined;
  verification?: { findings?: number | undefined; samples?: readonly string[] | undefined } | undefined;
  phases: readonly {
    type: string;
    name: string;
    fault?: { nodes: readonly string[]; stayedDown?: boolean | undefined } | undefined;
  }[];
  replicas?: { divergences: readonly DivergenceLike[] } | undefined;
  /** After a fault, the read-back or verification could not read the data back: why. */
  unserved?: { reason: string } | undefined;
}

/** A replica divergence as the verdict names it. */
export interface DivergenceLike {
  stream: string;
  replica: string;
  reference?: string | undefined;
  kind: string;
  sequences: readonly { from: number; to: number }[];
}

export interface ScenarioVerdict {
  status: Verdict;
  /** One line per reason the system under test misbehaved (empty when it did not). */
  findings: string[];
}

const RECORDED_ONLY = new Set<string>(['interrupted', 'error', 'skipped']);

/** A scenario's status and findings, from its figures (the status recorded counts only where figures cannot say). */
export function scenarioVerdict(s: VerdictInput): ScenarioVerdict {
  const findings = findingLines(s);
  const recorded = s.status ?? '';
  if (RECORDED_ONLY.has(recorded)) return { status: recorded as Verdict, findings };
  if (s.checks.some((c) => !c.ok)) return { status: 'failed', findings };
  return { status: findings.length > 0 ? 'finding' : 'passed', findings };
}

/**
 * The figure of a finding metric: the larger of the metric as recorded and what it is computed
 * from (the checker, verification, the replica comparison, the fault records), so a result whose
 * metrics and details disagree is judged by the worse; 0 when neither is there.
 */
export function findingFigure(s: VerdictInput, metric: (typeof FINDING_METRICS)[number]): number {
  const recorded = s.metrics[metric];
  return Math.max(typeof recorded === 'number' && Number.isFinite(recorded) ? recorded : 0, sourceFigure(s, metric));
}

function sourceFigure(s: VerdictInput, metric: (typeof FINDING_METRICS)[number]): number {
  switch (metric) {
    case 'lost':
    case 'unexpected':
    case 'duplicates':
      return s.checker?.[metric] ?? 0;
    case 'verify_findings':
      return s.verification?.findings ?? 0;
    case 'replica_divergences':
      return s.replicas?.divergences.length ?? 0;
    case 'nodes_stayed_down':
      return stayedDown(s).length;
    case 'unserved_after_fault':
      return s.unserved ? 1 : 0;
  }
}

function stayedDown(s: VerdictInput): { node: string; phase: string }[] {
  return s.phases.flatMap((p) =>
    p.type === 'fault' && p.fault?.stayedDown ? p.fault.nodes.map((node) => ({ node, phase: p.name })) : [],
  );
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function findingLines(s: VerdictInput): string[] {
  const lines: string[] = [];
  const lost = findingFigure(s, 'lost');
  if (lost > 0) lines.push(`lost ${plural(lost, 'acknowledged event')}`);
  const unexpected = findingFigure(s, 'unexpected');
  if (unexpected > 0) lines.push(`${plural(unexpected, 'unexpected event')} (caused by no attempted command)`);
  const duplicates = findingFigure(s, 'duplicates');
  if (duplicates > 0) lines.push(`${plural(duplicates, 'duplicate')} (an event stored, or a command applied, twice)`);
  const verify = findingFigure(s, 'verify_findings');
  if (verify > 0) {
    const first = s.verification?.samples?.[0];
    lines.push(`${plural(verify, 'verification finding')}${first ? ` (first: ${first})` : ''}`);
  }
  const divergences = s.replicas?.divergences ?? [];
  if (divergences.length > 0) lines.push(...divergences.map(divergenceLine));
  else {
    const n = findingFigure(s, 'replica_divergences');
    if (n > 0) lines.push(`${plural(n, 'replica divergence')}`);
  }
  const down = stayedDown(s);
  if (down.length > 0) lines.push(...down.map((d) => `node ${d.node} did not start again (fault ${d.phase})`));
  else {
    const n = findingFigure(s, 'nodes_stayed_down');
    if (n > 0) lines.push(`${plural(n, 'node')} did not start again`);
  }
  if (s.unserved) lines.push(`did not serve its data after the fault: ${s.unserved.reason}`);
  else if (findingFigure(s, 'unserved_after_fault') > 0) lines.push('did not serve its data after the fault');
  return lines;
}

/** "replica n2 of CIM_PERSON is missing seq 57–60, 63 (against n1)" */
export function divergenceLine(d: DivergenceLike): string {
  const ranges = d.sequences.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}–${r.to}`)).join(', ');
  const what =
    d.kind === 'missing'
      ? 'is missing'
      : d.kind === 'extra'
        ? 'has extra'
        : d.kind === 'different'
          ? 'differs at'
          : d.kind;
  return `replica ${d.replica} of ${d.stream} ${what} seq ${ranges || '?'}${d.reference ? ` (against ${d.reference})` : ''}`;
}

export interface RunVerdict {
  verdict: Verdict;
  /** Scenarios per verdict, in VERDICT_PRECEDENCE order, only those that occur. */
  counts: [Verdict, number][];
  /** "finding — 9 passed, 1 finding" / "skipped — nothing ran: 2 skipped". */
  summary: string;
}

/**
 * The run's verdict: the worst of its scenarios' by VERDICT_PRECEDENCE; `interrupted` when Ctrl-C
 * stopped it. Skipped scenarios do not count unless nothing else ran: then the run is `skipped`
 * (never `passed` on nothing), and so is a run of no scenarios at all.
 */
export function runVerdict(statuses: readonly Verdict[], interrupted = false): RunVerdict {
  const counts = VERDICT_PRECEDENCE.map((v) => [v, statuses.filter((s) => s === v).length] as [Verdict, number]).filter(
    ([, n]) => n > 0,
  );
  const worst = VERDICT_PRECEDENCE.find((v) => v !== 'skipped' && statuses.includes(v));
  const verdict: Verdict = interrupted ? 'interrupted' : (worst ?? 'skipped');
  const tally = counts.map(([v, n]) => `${n} ${v}`).join(', ') || 'no scenarios';
  return { verdict, counts, summary: `${verdict} — ${worst ? '' : 'nothing ran: '}${tally}` };
}

/** The run verdict of scenario results, each judged by scenarioVerdict. */
export function runVerdictOf(scenarios: readonly VerdictInput[], interrupted = false): RunVerdict {
  return runVerdict(
    scenarios.map((s) => scenarioVerdict(s).status),
    interrupted,
  );
}

/**
 * Whether a run's verdict fails it: `failed`, `error`, `interrupted` and a run where nothing ran
 * always do; `finding` only with `--fail-on finding`.
 */
export function verdictFails(verdict: Verdict, failOn: FailOn): boolean {
  if (verdict === 'passed') return false;
  if (verdict === 'finding') return failOn === 'finding';
  return true;
}

/** How the report states the policy it was run with. */
export function failOnSentence(failOn: FailOn): string {
  return failOn === 'finding'
    ? 'findings fail this run (--fail-on finding), as failed checks and errors do'
    : 'findings are reported but do not fail this run (--fail-on failed, the default); failed checks and errors do';
}
