// The report as Markdown for a GitHub job summary: the verdict first, then the gate, the findings,
// the headline table, and each scenario's details folded (<details>). Only Markdown and escaped
// text: GitHub sanitises HTML, but text from a report (titles, error messages, fault details) must
// not become markup either.
import { SEVERITY_ORDER, type NamedReport, type ReportFinding } from '../types.js';
import { readComplianceView, type ComplianceView, type EvidenceTable } from './compliance-view.js';
import { durabilityTable } from './durability.js';
import { cidText, count, MISSING, seconds } from './format.js';
import { toJsonValue } from './json.js';
import { replicaSection } from './replicas-view.js';
import { readPerformanceResults, type ScenarioView } from './performance-view.js';
import {
  checkMeasured,
  clusterLine,
  environmentLine,
  errorsByCode,
  rawBaselineLine,
  rampCapacity,
  rampLine,
  faultLine,
  gateRow,
  GATE_HEADERS,
  matrixTable,
  orderedComparisons,
  phaseLine,
  driverComparisonLine,
  driverComparisons,
  SUMMARY_HEADERS,
  summaryRow,
  RECOVERY_DEFINITION,
  viewVerdict,
} from './summary.js';
import { failOnSentence, scenarioVerdict, VERDICT_MEANING, VERDICT_PRECEDENCE } from '../verdict.js';

/** Text that Markdown shows as written: markup characters escaped, no line breaks (a table cell stays one cell). */
export function mdText(text: string): string {
  return text
    .replace(/\r?\n|\r/g, ' ')
    .replace(/[\\`*_[\]<>|&#!~]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : `\\${c}`));
}

/** Inline code that cannot be broken out of: backticks in the text are replaced. */
export function code(text: string): string {
  return `\`${text.replace(/`/g, "'").replace(/\r?\n|\r/g, ' ')}\``;
}

export function table(headers: readonly string[], rows: readonly string[][], numericFrom = 2): string[] {
  const align = headers.map((_, i) => (i >= numericFrom ? '---:' : ':---'));
  return [
    `| ${headers.map(mdText).join(' | ')} |`,
    `| ${align.join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(mdText).join(' | ')} |`),
  ];
}

export function renderMarkdown(named: NamedReport): string {
  const { report } = named;
  const cid = cidText(named.cid);
  const lines: string[] = [
    `# ${mdText(report.title)}`,
    '',
    `**${mdText(report.kind)}** report ${code(cid)} · created ${mdText(report.createdAt)} · signed by ${code(report.signer)}` +
      (report.prev ? ` · follows ${code(cidText(report.prev))}` : ''),
    '',
    `Environment: ${mdText(environmentLine(report.environment))}`,
    '',
    ...(report.environment.notes ?? []).flatMap((note) => [`> **Note:** ${mdText(note)}`, '']),
    `Verify: ${code(`cim report verify ${cid}`)}`,
  ];

  // Verdict first, then what to look at (the gate's regressions, the findings), then the detail, folded.
  const view = report.kind === 'performance' ? readPerformanceResults(report.results) : undefined;
  // One verdict model (reports/verdict.ts): the same counts as the terminal, HTML, JUnit and the exit code.
  const run = view ? viewVerdict(view) : undefined;
  if (run) lines.splice(2, 0, `**Verdict:** ${mdText(run.summary)}`, '');

  if (report.baseline) {
    const b = report.baseline;
    lines.push(
      '',
      `## Gate against ${code(cidText(b.cid))}: ${b.regressed ? '**regressed**' : 'no significant regression'}`,
      '',
    );
    if (b.comparisons.length === 0) lines.push('_No metric was compared._');
    else lines.push(...table(GATE_HEADERS, orderedComparisons(b.comparisons).map(gateRow)));
  }

  const compliance = readComplianceView(report);
  if (compliance)
    lines.push(
      '',
      `## Verdict: ${compliance.verdict.outcome === 'fail' ? `**${mdText(compliance.verdict.text)}**` : mdText(compliance.verdict.text)}`,
    );
  lines.push('', ...findingsSection(report.findings));

  if (view && run) {
    lines.push('', `## Scenarios: ${mdText(run.summary)}`, '', `_${mdText(failOnSentence(run.failOn))}._`, '');
    lines.push(...table(SUMMARY_HEADERS, view.scenarios.map(summaryRow)));
    lines.push(
      '',
      'Verdicts, worst first (the run takes the worst; a run where every scenario was skipped is skipped, not passed):',
      '',
      ...VERDICT_PRECEDENCE.map((v) => `- **${v}**: ${mdText(VERDICT_MEANING[v])}`),
    );
    if (view.scenarios.some((s) => s.phases.some((p) => p.type === 'fault')))
      lines.push('', mdText(RECOVERY_DEFINITION));
    const matrix = matrixTable(view);
    if (matrix)
      lines.push(
        '',
        `## Server versions side by side: ${mdText(view.servers!.join(', '))}`,
        '',
        ...table(matrix[0]!, matrix.slice(1)),
      );
    const durability = durabilityTable(view);
    if (durability)
      lines.push(
        '',
        '## Durability per server version',
        '',
        ...table(durability.headers, durability.rows),
        '',
        ...durability.notes.map((note) => `> ${mdText(note)}`).flatMap((l, i) => (i === 0 ? [l] : ['>', l])),
      );
    if (view.interrupted) lines.push('', '> Interrupted (Ctrl-C): the figures cover what was measured until then.');
  } else if (report.kind === 'performance') {
    lines.push('', '_The results of this report are not a performance results document; see the JSON rendering._');
  }

  if (compliance) lines.push('', ...complianceEvidence(compliance, report.findings, cid));
  if (view && view.scenarios.length > 0) {
    // Folded: a CI job summary shows the verdict, the regressions and the findings without scrolling past them.
    lines.push(
      '',
      '## Scenario details',
      '',
      '<details>',
      `<summary>${count(view.scenarios.length)} scenario(s): phases, checks, checker, verification, replicas, faults</summary>`,
    );
    for (const s of view.scenarios) lines.push('', ...scenarioSection(s));
    lines.push('', '</details>');
  }
  return `${lines.join('\n')}\n`;
}

function findingsSection(findings: readonly ReportFinding[]): string[] {
  if (findings.length === 0) return ['## Findings', '', 'None.'];
  const out = [`## Findings (${findings.length})`];
  for (const severity of SEVERITY_ORDER) {
    const some = findings.filter((f) => f.severity === severity);
    if (some.length === 0) continue;
    out.push('', `### ${severity} (${some.length})`, '');
    for (const f of some) out.push(`- ${code(f.id)}${f.check ? ` (${mdText(f.check)})` : ''} ${mdText(f.message)}`);
  }
  return out;
}

/** A fenced block that the text cannot close: the fence is longer than any run of tildes in it. */
function fenced(body: string, info = ''): string[] {
  const longest = Math.max(2, ...[...body.matchAll(/~+/g)].map((m) => m[0].length));
  const fence = '~'.repeat(longest + 1);
  return [`${fence}${info}`, ...body.replace(/\n$/, '').split('\n'), fence];
}

function evidenceTable(t: EvidenceTable): string[] {
  return [
    `### ${mdText(t.caption)}`,
    '',
    ...(t.rows.length === 0 ? ['_None._'] : table(t.headers, t.rows, t.numericFrom)),
  ];
}

/** After the findings: the checkpoint with its signed note, then the evidence tables and each finding's evidence. */
function complianceEvidence(view: ComplianceView, findings: readonly ReportFinding[], cid: string): string[] {
  const out: string[] = [];
  const c = view.checkpoint;
  if (c) {
    out.push('## Checkpoint', '');
    out.push(
      `- ${count(c.treeSize)} sealed events, root ${code(c.root)}` +
        (c.previousSize !== undefined
          ? `; extends the previous report's ${count(c.previousSize)} (consistency proof in the report)`
          : ''),
    );
    if (c.origin) out.push(`- origin ${code(c.origin)}`);
    if (c.vkey) out.push(`- verifier key ${code(c.vkey)}`);
    if (c.note)
      out.push('', `Signed note (C2SP tlog-checkpoint, also ${code(`${cid}.checkpoint`)}):`, '', ...fenced(c.note));
    out.push('');
  }
  out.push('## Evidence');
  for (const note of view.notes) out.push('', `> ${mdText(note)}`);
  for (const t of view.tables) out.push('', ...evidenceTable(t));
  const withEvidence = findings.filter((f) => f.evidence !== undefined);
  if (withEvidence.length > 0) {
    out.push('', '### Evidence of each finding');
    for (const f of withEvidence)
      out.push('', `${code(f.id)}:`, '', ...fenced(JSON.stringify(toJsonValue(f.evidence), null, 2) ?? 'null', 'json'));
  }
  return out;
}

function scenarioSection(s: ScenarioView): string[] {
  const { status, findings } = scenarioVerdict(s);
  const out = [`### ${mdText(s.scenario)}: ${mdText(status)}${s.reason ? ` (${mdText(s.reason)})` : ''}`, ''];
  if (findings.length > 0)
    out.push('**Findings** (the system under test misbehaved):', '', ...findings.map((f) => `- ${mdText(f)}`), '');
  if (s.description) out.push(mdText(s.description), '');
  const cluster = clusterLine(s);
  if (cluster) out.push(`- cluster: ${mdText(cluster)}`);
  out.push(`- ran ${seconds((s.seconds ?? NaN) * 1_000)}, seed ${count(s.seed)}`);
  const raw = rawBaselineLine(s);
  if (raw) out.push(`- raw baseline: ${mdText(raw)}`);
  const ramp = rampCapacity(s);
  if (ramp) out.push(`- ${mdText(rampLine(ramp))}`);
  if (s.phases.length > 0) {
    out.push(
      '',
      ...table(
        ['phase', 'type', 'figures'],
        s.phases.filter((p) => p.type !== 'check').map((p) => [p.name, p.type, phaseLine(p)]),
        3,
      ),
    );
  }
  const versus = driverComparisons(s.phases);
  if (versus.length > 0) out.push('', ...versus.map((c) => `- ${mdText(driverComparisonLine(c))}`));
  if (s.checks.length > 0) {
    out.push('', '**Checks**', '');
    for (const check of s.checks)
      out.push(`- ${check.ok ? '✓' : '✗'} ${code(check.text)}: measured ${mdText(checkMeasured(check.actual))}`);
  }
  const faults = s.phases.filter((p) => p.type === 'fault');
  if (faults.length > 0) {
    out.push('', '**Faults**', '');
    for (const f of faults) out.push(`- ${mdText(f.name)}: ${mdText(faultLine(f))}`);
  }
  const errors = errorsByCode(s);
  if (errors.length > 0) {
    out.push('', '**Errors by code**', '');
    for (const [errorCode, n] of errors) out.push(`- ${code(errorCode)}: ${count(n)}`);
  }
  if (s.checker) {
    const k = s.checker;
    out.push(
      '',
      `**Checker** ${k.ok === false ? '✗' : k.ok ? '✓' : ''}: ${count(k.attempted)} attempted, ${count(k.acknowledged)} acknowledged, ${count(k.failed)} refused, ${count(k.unknown)} unknown; ` +
        `read back ${count(k.readItems)}: lost ${count(k.lost)}, unexpected ${count(k.unexpected)}, duplicates ${count(k.duplicates)}`,
    );
  }
  if (s.verification) {
    const v = s.verification;
    out.push(
      '',
      `**Verification**: ${v.domains.map((d) => `${mdText(d.domain)} ${count(d.events)} events / ${count(d.seals)} seals`).join(', ') || MISSING}: ${count(v.findings)} finding(s)`,
    );
    for (const sample of v.samples.slice(0, 5)) out.push(`- ${mdText(sample)}`);
  }
  out.push(...replicasMarkdown(s));
  return out;
}

/** The checker per replica and the divergences between replicas, each copy read from its own server. */
function replicasMarkdown(s: ScenarioView): string[] {
  const r = replicaSection(s);
  if (!r) return [];
  const out: string[] = [];
  if (r.perReplica.length > 0)
    out.push(
      '',
      `**Checker per replica**: ${r.perReplica.map((p) => `${mdText(p.server)} lost ${count(p.lost)}, unexpected ${count(p.unexpected)}, duplicates ${count(p.duplicates)}`).join('; ')}`,
    );
  out.push('', `**Replicas**: ${mdText(r.summary)}: ${count(r.divergences.length)} divergence(s)`);
  for (const d of r.divergences) out.push(`- ${mdText(d)}`);
  for (const u of r.unreadable) out.push(`- unreadable: ${mdText(u)}`);
  return out;
}
