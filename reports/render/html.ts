// The report as one self-contained HTML page: inline CSS, inline SVG charts, no script and no
// request of any kind (a Content-Security-Policy of `default-src 'none'` says so to the browser
// too), so it can be attached to a CI run, mailed or opened from disk years later and look the
// same. Readable on a phone (fluid layout, charts scale by viewBox) and in dark mode.
import * as hdr from 'hdr-histogram-js';
import {
  barChart,
  escapeXml,
  lineChart,
  timeline,
  type Band,
  type LineSeries,
  type TimelineRow,
} from '../svg/index.js';
import {
  failingSeverity,
  SEVERITY_ORDER,
  type NamedReport,
  type ReportBaseline,
  type ReportFinding,
  type Severity,
} from '../types.js';
import { readComplianceView, type ComplianceView, type EvidenceTable } from './compliance-view.js';
import { durabilityTable } from './durability.js';
import { failOnSentence, scenarioVerdict, VERDICT_MEANING, VERDICT_PRECEDENCE, type Verdict } from '../verdict.js';
import { cidText, count, MISSING, ratio } from './format.js';
import { toJsonValue } from './json.js';
import { replicaSection } from './replicas-view.js';
import {
  readPerformanceResults,
  type LoadPhaseView,
  type PerformanceResultsView,
  type ScenarioView,
} from './performance-view.js';
import {
  checkMeasured,
  clusterLine,
  driverComparisons,
  environmentLine,
  errorsByCode,
  faultLabel,
  faultLine,
  gateRow,
  GATE_HEADERS,
  orderedComparisons,
  phaseLine,
  phaseRatios,
  rawBaselineLine,
  rampCapacity,
  rampLine,
  matrixTable,
  RECOVERY_DEFINITION,
  SUMMARY_HEADERS,
  summaryRow,
  viewVerdict,
  worstRatio,
} from './summary.js';

const esc = escapeXml;

const CSS = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--card:#f6f8fa;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--card:#151b23;--ok:#3fb950;--bad:#f85149;--warn:#d29922}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
header,main,footer{max-width:980px;margin:0 auto;padding:12px 16px}
h1{font-size:1.5rem;line-height:1.25;margin:.3em 0;overflow-wrap:anywhere}
h2{font-size:1.25rem;margin:1.6em 0 .5em}
h3{font-size:1.05rem;margin:1.2em 0 .4em}
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
pre{white-space:pre-wrap;background:var(--card);padding:8px;border-radius:6px;max-height:24em;overflow:auto}
.meta,figcaption,.note{color:var(--muted)}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0}
dl.meta dt{font-weight:600}
dl.meta dd{margin:0;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin:16px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card .figure{display:block;font-size:1.6rem;font-weight:600;font-variant-numeric:tabular-nums}
.table-wrap{overflow-x:auto;margin:8px 0}
table{border-collapse:collapse;width:100%;font-size:14px}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
thead th{border-bottom-width:2px;white-space:nowrap}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}
.status{display:inline-block;border:1px solid currentColor;border-radius:999px;padding:0 8px;font-size:13px;font-weight:600}
section.scenario{border-top:2px solid var(--line);margin-top:28px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,420px),1fr));gap:12px}
figure{margin:8px 0}
svg.chart{display:block;width:100%;max-width:720px;height:auto}
ul.findings{padding-left:1.2em}
a{color:inherit;text-underline-offset:2px}
nav.toc{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:6px 12px;margin:12px 0}
nav.toc ol{margin:4px 0;padding-left:1.4em}
@media (max-width:640px){
header,main,footer{padding:10px}
.table-wrap table,.table-wrap tbody,.table-wrap tr,.table-wrap th,.table-wrap td,.table-wrap caption{display:block;width:100%}
.table-wrap thead{display:none}
.table-wrap tr{border:1px solid var(--line);border-radius:6px;margin:0 0 8px;padding:4px 0}
.table-wrap th[scope=row]{border-bottom:1px solid var(--line)}
.table-wrap th,.table-wrap td{overflow-wrap:anywhere;min-width:0}
.table-wrap td{display:flex;justify-content:space-between;gap:12px;border:0;padding:2px 8px;text-align:right;white-space:normal}
.table-wrap td::before{content:attr(data-label);color:var(--muted);text-align:left}
}
`;

const RATIO_AXIS = '× raw: load ops/s ÷ raw publish, replay ÷ raw read';

const CSP = "default-src 'none'; style-src 'unsafe-inline'";

export function renderHtml(named: NamedReport): string {
  const { report } = named;
  const cid = cidText(named.cid);
  const view = report.kind === 'performance' ? readPerformanceResults(report.results) : undefined;
  // Verdict first (the cards), then what to look at: the gate's regressions, the findings; then the detail.
  const main: string[] = [];
  const toc: [string, string][] = [];
  const section = (id: string, title: string, html: string) => {
    if (!html) return;
    toc.push([id, title]);
    main.push(html);
  };
  main.push(cards(view, report.findings, report.baseline));
  const tocAt = main.length;
  if (report.baseline) section('gate', 'Gate: regressions first', gateSection(report.baseline));
  const compliance = readComplianceView(report);
  if (compliance) section('verdict', 'Verdict', verdictSection(compliance));
  section('findings', `Findings (${report.findings.length})`, findingsSection(report.findings));
  if (view) {
    const summary: string[] = [
      '<section id="scenarios"><h2>Scenarios</h2>',
      table(
        SUMMARY_HEADERS,
        view.scenarios.map(summaryRow),
        2,
        'Headline figures per scenario (each name links to its section)',
        () => '',
        (row) => `#${scenarioId(row[0]!)}`,
      ),
      definitions(view),
    ];
    if (view.interrupted)
      summary.push('<p class="warn">Interrupted (Ctrl-C): the figures cover what was measured until then.</p>');
    const matrix = matrixTable(view);
    if (matrix)
      summary.push(
        `<h3>Server versions side by side</h3>`,
        table(
          matrix[0]!,
          matrix.slice(1),
          2,
          `The same scenarios and seeds on nats-server ${view.servers!.join(', ')}`,
        ),
      );
    const durability = durabilityTable(view);
    if (durability)
      summary.push(
        '<h3 id="durability">Durability per server version</h3>',
        table(
          durability.headers,
          durability.rows,
          2,
          'Acknowledged writes lost, replica divergence, verification findings, nodes down and client errors, per fault over all its seeds',
        ),
        ...durability.notes.map((note) => `<p class="note">${esc(note)}</p>`),
      );
    const ratios = view.scenarios.flatMap((s) =>
      phaseRatios(s).map((r) => ({
        label: `${s.scenario} ${r.label}`,
        value: r.value,
        group: r.kind === 'load' ? 0 : 2,
      })),
    );
    if (ratios.length > 0) {
      summary.push(
        figure(
          barChart({
            title: 'Every throughput at full speed as a ratio to the raw JetStream baseline of its run',
            xLabel: RATIO_AXIS,
            bars: ratios,
            reference: { value: 1, label: '1.0 = raw' },
            format: ratio,
          }),
          'Fixed-rate phases are not here: their throughput is what was offered; the headline table gives their delivered ÷ offered.',
        ),
      );
    }
    summary.push('</section>');
    section('scenarios', 'Scenarios', summary.join('\n'));
    if (durability) toc.push(['durability', 'Durability per server version']);
  } else if (report.kind === 'performance') {
    main.push(
      '<p class="note">The results of this report are not a performance results document; see the JSON rendering.</p>',
    );
  }
  if (compliance) {
    section('checkpoint', 'Checkpoint', checkpointSection(compliance, cid));
    section('evidence', 'Evidence', evidenceSection(compliance));
  }
  if (view) for (const s of view.scenarios) section(scenarioId(s.scenario), s.scenario, scenarioSection(s));
  main.splice(tocAt, 0, tableOfContents(toc));

  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    '<meta name="referrer" content="no-referrer">',
    `<title>${esc(report.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<header>',
    `<p class="meta">CIM Appliance · ${esc(report.kind)} report</p>`,
    `<h1>${esc(report.title)}</h1>`,
    '<dl class="meta">',
    `<dt>CID</dt><dd><code>${esc(cid)}</code></dd>`,
    `<dt>Created</dt><dd>${esc(report.createdAt)}</dd>`,
    `<dt>Signer</dt><dd><code>${esc(report.signer)}</code></dd>`,
    `<dt>Previous</dt><dd>${report.prev ? `<code>${esc(cidText(report.prev))}</code>` : 'none (first of its kind)'}</dd>`,
    `<dt>Environment</dt><dd>${esc(environmentLine(report.environment))}</dd>`,
    ...(report.environment.notes ?? []).map((note) => `<dt>Note</dt><dd><strong>${esc(note)}</strong></dd>`),
    ...(report.scenario?.length ? [`<dt>Scenarios</dt><dd>${esc(report.scenario.join(', '))}</dd>`] : []),
    `<dt>Verify</dt><dd><code>cim report verify ${esc(cid)}</code></dd>`,
    '</dl>',
    '</header>',
    '<main>',
    ...main,
    '</main>',
    `<footer class="note">This page is a rendering; the signed document is the canonical CBOR named by its CID.</footer>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Links to the page's sections, in page order. */
function tableOfContents(entries: readonly [string, string][]): string {
  if (entries.length < 2) return '';
  const items = entries.map(([id, title]) => `<li><a href="#${esc(id)}">${esc(title)}</a></li>`);
  return `<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>${items.join('')}</ol></nav>`;
}

function cards(
  view: PerformanceResultsView | undefined,
  findings: readonly ReportFinding[],
  baseline: ReportBaseline | undefined,
): string {
  const out: string[] = [];
  const card = (label: string, value: string, cls = '', note = '') =>
    out.push(
      `<div class="card"><span class="figure ${cls}">${esc(value)}</span>${esc(label)}${note ? `<br><span class="note">${esc(note)}</span>` : ''}</div>`,
    );
  if (view) {
    // One verdict model (reports/verdict.ts): the same counts as the terminal, Markdown, JUnit and the exit code.
    const run = viewVerdict(view);
    card('run verdict', run.verdict, verdictClass(run.verdict), failOnSentence(run.failOn));
    for (const [verdict, n] of run.counts) card(`scenario(s) ${verdict}`, count(n), verdictClass(verdict));
    const worst = worstRatio(view);
    card(
      'worst ratio to raw',
      worst ? ratio(worst.value) : MISSING,
      '',
      worst ? `${worst.scenario}, ${worst.label}` : '',
    );
  }
  const failing = findings.filter((f) => failingSeverity(f.severity));
  const errors = failing.filter((f) => f.severity === 'error').length;
  const serious = failing.length - errors;
  const note = [serious > 0 ? `${serious} critical or high` : '', errors > 0 ? `${errors} error(s)` : '']
    .filter(Boolean)
    .join(', ');
  card('findings', count(findings.length), failing.length > 0 ? 'bad' : '', note);
  if (baseline)
    card(
      'gate',
      baseline.regressed ? 'regressed' : 'holds',
      baseline.regressed ? 'bad' : 'ok',
      `against ${cidText(baseline.cid).slice(0, 16)}…`,
    );
  return `<div class="cards">${out.join('')}</div>`;
}

function gateSection(b: ReportBaseline): string {
  const rows = orderedComparisons(b.comparisons).map(gateRow);
  const verdictClass = (v: string) => (v === 'regressed' ? 'bad' : v === 'improved' ? 'ok' : '');
  return [
    '<section id="gate">',
    `<h2>Gate: <span class="${b.regressed ? 'bad' : 'ok'}">${b.regressed ? 'regressed' : 'no significant regression'}</span></h2>`,
    `<p class="meta">Against baseline <code>${esc(cidText(b.cid))}</code>; regressions first.</p>`,
    rows.length === 0
      ? '<p class="note">No metric was compared.</p>'
      : table(GATE_HEADERS, rows, 2, 'Candidate against baseline', (row) => verdictClass(row[row.length - 1]!)),
    '</section>',
  ].join('\n');
}

const SEVERITY_CLASS: Record<Severity, string> = {
  critical: 'bad',
  high: 'bad',
  error: 'bad',
  medium: 'warn',
  warning: 'warn',
  low: '',
  info: '',
};

function findingsSection(findings: readonly ReportFinding[]): string {
  const out = ['<section id="findings">', `<h2>Findings (${findings.length})</h2>`];
  if (findings.length === 0) out.push('<p>None.</p>');
  for (const severity of SEVERITY_ORDER) {
    const some = findings.filter((f) => f.severity === severity);
    if (some.length === 0) continue;
    out.push(`<h3 class="${SEVERITY_CLASS[severity]}">${severity} (${some.length})</h3>`, '<ul class="findings">');
    for (const f of some) {
      const evidence =
        f.evidence === undefined
          ? ''
          : `<details><summary>evidence</summary><pre>${esc(truncate(JSON.stringify(toJsonValue(f.evidence), null, 2) ?? '', 4_000))}</pre></details>`;
      const check = f.check ? ` <span class="note">(${esc(f.check)})</span>` : '';
      out.push(`<li><code>${esc(f.id)}</code>${check} ${esc(f.message)}${evidence}</li>`);
    }
    out.push('</ul>');
  }
  out.push('</section>');
  return out.join('\n');
}

const VERDICT_CLASS: Record<ComplianceView['verdict']['outcome'], string> = {
  pass: 'ok',
  attention: 'warn',
  fail: 'bad',
};

function verdictSection(view: ComplianceView): string {
  return `<section id="verdict"><h2>Verdict: <span class="${VERDICT_CLASS[view.verdict.outcome]}">${esc(view.verdict.text)}</span></h2></section>`;
}

function checkpointSection(view: ComplianceView, cid: string): string {
  const c = view.checkpoint;
  if (!c) return '';
  const facts = [
    `<dt>Events</dt><dd>${esc(count(c.treeSize))} sealed event CIDs</dd>`,
    `<dt>Root</dt><dd><code>${esc(c.root)}</code></dd>`,
    ...(c.previousSize !== undefined
      ? [
          `<dt>Extends</dt><dd>the previous report's tree of ${esc(count(c.previousSize))} (consistency proof in the report)</dd>`,
        ]
      : []),
    ...(c.origin ? [`<dt>Origin</dt><dd><code>${esc(c.origin)}</code></dd>`] : []),
    ...(c.vkey ? [`<dt>Verifier key</dt><dd><code>${esc(c.vkey)}</code></dd>`] : []),
  ];
  return [
    '<section id="checkpoint"><h2>Checkpoint</h2>',
    `<dl class="meta">${facts.join('')}</dl>`,
    ...(c.note
      ? [
          `<p class="meta">Signed note (C2SP tlog-checkpoint), also <code>${esc(cid)}.checkpoint</code>:</p>`,
          `<pre>${esc(c.note)}</pre>`,
        ]
      : []),
    '</section>',
  ].join('\n');
}

function evidenceSection(view: ComplianceView): string {
  const out = ['<section id="evidence"><h2>Evidence</h2>'];
  for (const note of view.notes) out.push(`<p class="warn">${esc(note)}</p>`);
  for (const t of view.tables) out.push(evidenceTable(t));
  out.push('</section>');
  return out.join('\n');
}

function evidenceTable(t: EvidenceTable): string {
  if (t.rows.length === 0) return `<h3>${esc(t.caption)}</h3><p class="note">None.</p>`;
  return table(t.headers, t.rows, t.numericFrom, t.caption);
}

/** The class a verdict is shown in: passed green, finding amber, skipped plain, the rest red. */
function verdictClass(verdict: Verdict): string {
  return verdict === 'passed' ? 'ok' : verdict === 'finding' ? 'warn' : verdict === 'skipped' ? '' : 'bad';
}

/** What the verdicts mean and, when a scenario has a fault, how recovery and the longest stall are measured. */
function definitions(view: PerformanceResultsView): string {
  const items = VERDICT_PRECEDENCE.map((v) => `<li><strong>${esc(v)}</strong>: ${esc(VERDICT_MEANING[v])}</li>`);
  const faults = view.scenarios.some((s) => s.phases.some((p) => p.type === 'fault'));
  return [
    `<p class="note">Verdicts (worst first; the run takes the worst of its scenarios, and a run where every scenario was skipped is skipped, not passed):</p>`,
    `<ul class="note">${items.join('')}</ul>`,
    ...(faults ? [`<p class="note" id="recovery-definition">${esc(RECOVERY_DEFINITION)}</p>`] : []),
  ].join('\n');
}

function scenarioSection(s: ScenarioView): string {
  const { status, findings } = scenarioVerdict(s);
  const out = [
    `<section class="scenario" id="${esc(scenarioId(s.scenario))}">`,
    `<h2>${esc(s.scenario)} <span class="status ${verdictClass(status)}">${esc(status)}</span></h2>`,
  ];
  if (s.reason) out.push(`<p class="bad">${esc(s.reason)}</p>`);
  if (findings.length > 0)
    out.push(
      `<p class="${status === 'finding' ? 'warn' : 'bad'}">The system under test misbehaved:</p>`,
      `<ul class="findings">${findings.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>`,
    );
  if (s.description) out.push(`<p>${esc(s.description)}</p>`);
  const cluster = clusterLine(s);
  const raw = rawBaselineLine(s);
  const facts = [
    ...(cluster ? [`cluster ${cluster}`] : []),
    `seed ${count(s.seed)}`,
    ...(raw ? [`raw baseline: ${raw}`] : []),
  ];
  const ramp = rampCapacity(s);
  if (ramp) out.push(`<p><strong>${esc(rampLine(ramp))}</strong></p>`);
  out.push(`<p class="meta">${esc(facts.join('; '))}</p>`);

  const hasFaults = s.phases.some((p) => p.type === 'fault' && p.fault);
  out.push('<div class="charts">');
  const throughput = throughputChart(s);
  if (throughput)
    out.push(
      figure(
        throughput,
        `Acknowledged operations per second${hasFaults ? '; shaded: a fault from firing to healing' : ''}.`,
      ),
    );
  const p99 = p99Chart(s);
  if (p99)
    out.push(
      figure(
        p99,
        `The 99th percentile of the operations acknowledged in each second${hasFaults ? '; shaded: a fault' : ''}.`,
      ),
    );
  for (const chart of serverCharts(s))
    out.push(figure(chart, 'Sampled from each node’s monitoring port (/varz) while the scenario ran.'));
  const latency = latencyChart(s);
  if (latency) out.push(figure(latency, 'Latency by percentile (HdrHistogram, µs resolution).'));
  const ratios = phaseRatios(s);
  if (ratios.length > 0) {
    out.push(
      figure(
        barChart({
          title: `${s.scenario}: ratio to the raw baseline`,
          xLabel: RATIO_AXIS,
          bars: ratios.map((r) => ({ label: r.label, value: r.value, group: r.kind === 'load' ? 0 : 2 })),
          reference: { value: 1, label: '1.0 = raw' },
          format: ratio,
        }),
      ),
    );
  }
  const recovery = recoveryTimeline(s);
  if (recovery)
    out.push(
      figure(
        recovery,
        hasFaults
          ? 'Phases, faults (fired → healed), and the longest stall and the recovery after each, drawn from when the fault fired.'
          : "Phases on the scenario's time axis.",
      ),
    );
  out.push('</div>');

  const phases = s.phases.filter((p) => p.type !== 'check');
  if (phases.length > 0)
    out.push(
      table(
        ['phase', 'type', 'figures'],
        phases.map((p) => [p.name, p.type, phaseLine(p)]),
        3,
        'Phases',
      ),
    );
  const versus = driverComparisons(s.phases);
  if (versus.length > 0)
    out.push(
      table(
        ['http ÷ nats (same mix)', 'throughput', 'p50', 'p99', 'p99.9'],
        versus.map((c) => [`${c.http} ÷ ${c.nats}`, ratio(c.throughput), ratio(c.p50), ratio(c.p99), ratio(c.p999)]),
        1,
        'HTTP against NATS: each figure of the http phase ÷ that of the nats phase',
      ),
    );
  if (s.checks.length > 0) {
    out.push(
      table(
        ['check', 'result', 'measured'],
        s.checks.map((k) => [k.text, k.ok ? '✓ ok' : '✗ failed', checkMeasured(k.actual)]),
        2,
        'Checks',
        (row) => (row[1]!.startsWith('✓') ? 'ok' : 'bad'),
      ),
    );
  }
  const errors = errorsByCode(s);
  if (errors.length > 0)
    out.push(
      table(
        ['error code', 'operations'],
        errors.map(([code, n]) => [code, count(n)]),
        1,
        'Errors by code',
      ),
    );
  if (s.checker) {
    const k = s.checker;
    const verdict = k.ok === undefined ? MISSING : k.ok ? '✓ ok' : '✗ failed';
    out.push(
      table(
        ['attempted', 'acknowledged', 'refused', 'unknown', 'read back', 'lost', 'unexpected', 'duplicates', 'verdict'],
        [
          [
            count(k.attempted),
            count(k.acknowledged),
            count(k.failed),
            count(k.unknown),
            count(k.readItems),
            count(k.lost),
            count(k.unexpected),
            count(k.duplicates),
            verdict,
          ],
        ],
        0,
        'Checker: every acknowledged event read back exactly once',
        () => (k.ok === false ? 'bad' : ''),
      ),
    );
    const samples = k.samples ? Object.entries(k.samples).filter(([, v]) => v.length > 0) : [];
    for (const [kind, v] of samples)
      out.push(`<p class="bad">${esc(kind)}: <code>${esc(v.slice(0, 10).join(', '))}</code></p>`);
  }
  if (s.verification) {
    const v = s.verification;
    out.push(
      table(
        ['domain', 'events', 'seals', 'findings'],
        v.domains.map((d) => [d.domain, count(d.events), count(d.seals), count(d.findings)]),
        1,
        `Verification: ${count(v.findings)} finding(s)`,
      ),
    );
    if (v.samples.length > 0) out.push(`<pre>${esc(v.samples.slice(0, 10).join('\n'))}</pre>`);
  }
  out.push(...replicasHtml(s));
  const faults = s.phases.filter((p) => p.type === 'fault');
  if (faults.length > 0)
    out.push(
      table(
        ['fault', 'what happened'],
        faults.map((f) => [f.name, faultLine(f)]),
        2,
        'Faults',
      ),
    );
  out.push('</section>');
  return out.join('\n');
}

/** The scenario's time axis, s: from its start to the end of its last timed phase. */
function scenarioSpan(s: ScenarioView): [number, number] {
  const ends = s.phases
    .flatMap((p) => [p.endedAtMs, p.type === 'fault' ? p.fault?.healedAtMs : undefined])
    .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const perSecondEnd = s.phases.flatMap((p) => (p.type === 'load' ? p.perSecond.map((x) => (x.t + 1) * 1_000) : []));
  const end = Math.max(0, ...ends, ...perSecondEnd) / 1_000;
  return [0, end > 0 ? end : 1];
}

function throughputChart(s: ScenarioView): string | undefined {
  const loads = s.phases.filter((p): p is LoadPhaseView => p.type === 'load' && p.perSecond.length > 0);
  if (loads.length === 0) return undefined;
  const series: LineSeries[] = [];
  // A sample covers [t, t + 1): it is drawn at its middle.
  for (const p of loads)
    series.push({ name: `${p.name} ok/s`, points: p.perSecond.map((x) => [x.t + 0.5, x.ok] as const), area: true });
  for (const p of loads)
    if (p.perSecond.some((x) => (x.failed ?? 0) > 0))
      series.push({ name: `${p.name} failed/s`, points: p.perSecond.map((x) => [x.t + 0.5, x.failed ?? 0] as const) });
  const bands = faultBands(s);
  return lineChart({
    title: `${s.scenario}: throughput over time`,
    description: `Operations acknowledged per second${bands.length ? `, with ${bands.length} fault(s) marked` : ''}.`,
    xLabel: 'seconds since the scenario started',
    yLabel: 'ops/s',
    series,
    bands,
    xDomain: scenarioSpan(s),
  });
}

/** The fault bands of a scenario's time charts. */
function faultBands(s: ScenarioView): Band[] {
  return s.phases.flatMap((p) =>
    p.type === 'fault' && p.fault
      ? [
          {
            from: p.fault.firedAtMs / 1_000,
            ...(p.fault.healedAtMs === undefined ? {} : { to: p.fault.healedAtMs / 1_000 }),
            label: faultLabel(p),
          },
        ]
      : [],
  );
}

/** p99 of each second with acknowledgements, per load phase, over the scenario's time. */
function p99Chart(s: ScenarioView): string | undefined {
  const series: LineSeries[] = s.phases.flatMap((p) =>
    p.type === 'load' && p.perSecond.some((x) => x.ok > 0 && typeof x.p99Ms === 'number')
      ? [
          {
            name: `${p.name} p99`,
            points: p.perSecond
              .filter((x) => x.ok > 0 && typeof x.p99Ms === 'number')
              .map((x) => [x.t + 0.5, x.p99Ms!] as const),
          },
        ]
      : [],
  );
  if (series.length === 0) return undefined;
  return lineChart({
    title: `${s.scenario}: p99 latency over time`,
    xLabel: 'seconds since the scenario started',
    yLabel: 'ms',
    series,
    bands: faultBands(s),
    xDomain: scenarioSpan(s),
  });
}

/** CPU and memory of each node over the scenario's time, when they were sampled. */
function serverCharts(s: ScenarioView): string[] {
  const nodes = [...new Set(s.serverStats.map((x) => x.node))].sort();
  const chart = (
    title: string,
    yLabel: string,
    value: (x: ScenarioView['serverStats'][number]) => number | undefined,
  ) => {
    const series: LineSeries[] = nodes.flatMap((node) => {
      const points = s.serverStats
        .filter((x) => x.node === node && x.up !== false)
        .flatMap((x) => {
          const v = value(x);
          return typeof v === 'number' && Number.isFinite(v) ? [[x.t, v] as const] : [];
        });
      return points.length > 1 ? [{ name: node, points }] : [];
    });
    return series.length === 0
      ? []
      : [
          lineChart({
            title,
            xLabel: 'seconds since the scenario started',
            yLabel,
            series,
            bands: faultBands(s),
            xDomain: scenarioSpan(s),
          }),
        ];
  };
  return [
    ...chart(`${s.scenario}: server CPU per node`, '% of one core', (x) => x.cpuPercent),
    ...chart(`${s.scenario}: server memory per node`, 'MiB resident', (x) =>
      x.memBytes === undefined ? undefined : x.memBytes / 2 ** 20,
    ),
  ];
}

/** Percentiles from 50 to 99.99, evenly spaced on the percentile axis. */
const CURVE_PERCENTILES = Array.from(
  { length: 61 },
  (_, i) => 100 * (1 - 10 ** -(Math.log10(2) + (i * (4 - Math.log10(2))) / 60)),
);

function latencyChart(s: ScenarioView): string | undefined {
  const series: LineSeries[] = [];
  for (const p of s.phases) {
    if (p.type !== 'load' || !p.latency) continue;
    const curve = p.latency.histogram ? histogramCurve(p.latency.histogram) : undefined;
    const l = p.latency;
    const summary: [number, number | undefined][] = [
      [50, l.p50Ms],
      [90, l.p90Ms],
      [99, l.p99Ms],
      [99.9, l.p999Ms],
    ];
    const fallback = summary.flatMap(([pct, v]): [number, number][] => (v === undefined ? [] : [[pct, v]]));
    const points = curve ?? fallback;
    if (points.length > 0) series.push({ name: p.name, points });
  }
  if (series.length === 0) return undefined;
  return lineChart({
    title: `${s.scenario}: latency by percentile`,
    xLabel: 'percentile',
    yLabel: 'ms',
    xScale: 'percentile',
    series,
  });
}

/** Latency (ms) at each curve percentile from an HdrHistogram's compressed base64; undefined when it does not decode. */
export function histogramCurve(compressed: string): [number, number][] | undefined {
  let histogram: hdr.Histogram | undefined;
  try {
    histogram = hdr.decodeFromCompressedBase64(compressed);
    if (histogram.totalCount === 0) return undefined;
    const h = histogram;
    return CURVE_PERCENTILES.map((p) => [p, h.getValueAtPercentile(p) / 1_000]);
  } catch {
    return undefined;
  } finally {
    histogram?.destroy();
  }
}

function recoveryTimeline(s: ScenarioView): string | undefined {
  const rows: TimelineRow[] = [];
  const at = (v: number | undefined) => (v === undefined ? NaN : v / 1_000);
  for (const p of s.phases) {
    if (p.type === 'check') continue;
    if (p.type !== 'fault') {
      rows.push({
        label: p.name === p.type ? p.name : `${p.type} ${p.name}`,
        segments: [{ from: at(p.startedAtMs), to: at(p.endedAtMs), kind: 'phase' }],
      });
      continue;
    }
    const f = p.fault;
    if (!f) continue;
    const fired = f.firedAtMs / 1_000;
    rows.push({
      label: `fault ${p.name}`,
      segments: [
        {
          from: fired,
          ...(f.healedAtMs === undefined ? {} : { to: f.healedAtMs / 1_000 }),
          kind: 'fault',
          label: faultLabel(p),
        },
      ],
    });
    if (p.stallMs !== undefined)
      rows.push({
        label: `${p.name}: longest stall`,
        segments: [
          { from: fired, to: fired + p.stallMs / 1_000, kind: 'stall', label: `${(p.stallMs / 1_000).toFixed(1)} s` },
        ],
      });
    if (p.recoveryMs !== undefined)
      rows.push({
        label: `${p.name}: recovery`,
        segments: [
          { from: fired, to: fired + p.recoveryMs / 1_000, kind: 'recovery', label: `${Math.round(p.recoveryMs)} ms` },
        ],
      });
    else if (p.recovered === false)
      rows.push({
        label: `${p.name}: recovery`,
        segments: [{ from: fired, kind: 'recovery', label: 'did not recover' }],
      });
  }
  if (rows.length === 0) return undefined;
  return timeline({
    title: `${s.scenario}: phases, faults and recovery`,
    xLabel: 'seconds since the scenario started',
    rows,
    domain: scenarioSpan(s),
  });
}

function figure(svg: string, caption = ''): string {
  return `<figure>${svg}${caption ? `<figcaption>${esc(caption)}</figcaption>` : ''}</figure>`;
}

/** The checker per replica and the divergences between replicas, each copy read from its own server. */
function replicasHtml(s: ScenarioView): string[] {
  const r = replicaSection(s);
  if (!r) return [];
  const out: string[] = [];
  if (r.perReplica.length > 0)
    out.push(
      table(
        ['replica', 'lost', 'unexpected', 'duplicates'],
        r.perReplica.map((p) => [p.server, count(p.lost), count(p.unexpected), count(p.duplicates)]),
        1,
        "Checker per replica: each replica's own copy read back",
        (row) => (row.slice(1).some((c) => c !== '0') ? 'bad' : ''),
      ),
    );
  out.push(`<p>Replicas: ${esc(r.summary)}: ${count(r.divergences.length)} divergence(s)</p>`);
  if (r.divergences.length > 0)
    out.push(`<ul class="bad">${r.divergences.map((d) => `<li>${esc(d)}</li>`).join('')}</ul>`);
  if (r.unreadable.length > 0)
    out.push(`<ul>${r.unreadable.map((u) => `<li>unreadable: ${esc(u)}</li>`).join('')}</ul>`);
  return out;
}

/** A table with column headers and each row's first cell as its row header; cells from `numericFrom` on are right-aligned. */
/**
 * A table with column headers and each row's first cell as its row header; cells from `numericFrom`
 * on are right-aligned. Each cell carries its column's name (`data-label`), so on a phone the rows
 * stack as cards (CSS) instead of the table scrolling sideways. `rowLink` makes a row's header a
 * link (a headline row to its scenario's section).
 */
function table(
  headers: readonly string[],
  rows: readonly string[][],
  numericFrom: number,
  caption: string,
  rowClass: (row: string[]) => string = () => '',
  rowLink?: (row: string[]) => string | undefined,
): string {
  const cls = (i: number) => (i >= numericFrom && i > 0 ? ' class="num"' : '');
  const head = `<thead><tr>${headers.map((h, i) => `<th scope="col"${cls(i)}>${esc(h)}</th>`).join('')}</tr></thead>`;
  const body = rows.map((row) => {
    const rc = rowClass(row);
    const href = rowLink?.(row);
    const cells = row
      .map((cell, i) =>
        i === 0
          ? `<th scope="row">${href ? `<a href="${esc(href)}">${esc(cell)}</a>` : esc(cell)}</th>`
          : `<td${cls(i)} data-label="${esc(headers[i] ?? '')}">${esc(cell)}</td>`,
      )
      .join('');
    return `<tr${rc ? ` class="${rc}"` : ''}>${cells}</tr>`;
  });
  return `<div class="table-wrap"><table><caption>${esc(caption)}</caption>${head}<tbody>${body.join('')}</tbody></table></div>`;
}

/** The id of a scenario's section, which the headline rows and the table of contents link to. */
function scenarioId(scenario: string): string {
  return `scenario-${slug(scenario)}`;
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'scenario'
  );
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n… (${text.length - max} more characters)`;
}
