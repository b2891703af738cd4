// The terminal summary of a `cim bench` run: per scenario, the verdict, the raw baseline it was
// measured against, each phase's headline figures with their ratio to that baseline, what the
// checker and verification found, and the assertions. Then one table across scenarios and the
// run's verdict — all from the one verdict model (reports/verdict.ts) the reports and the exit code use.
import {
  alignedTable,
  count,
  DEFAULT_FAIL_ON,
  failOnSentence,
  recoveryText,
  runVerdictOf,
  scenarioVerdict,
  decimal,
  driverComparisonLine,
  driverComparisons,
  durabilityTable,
  matrixTable,
  ms,
  ratio,
  readPerformanceResults,
  seconds,
  SUMMARY_HEADERS,
  summaryRow,
} from '../reports/index.js';
import { replicaLines } from './render-replicas.js';
import type { BenchResults, PhaseResult, ScenarioResult } from './results.js';

export function renderBenchResults(results: BenchResults, resultsFile?: string): string {
  const env = results.environment;
  const lines = [
    `cim bench — run ${results.runId}: ${results.scenarios.length} scenario(s); node ${env.node}, ${env.cpu.cores} × ${env.cpu.model}, ${Math.round(env.memoryBytes / 2 ** 30)} GiB` +
      (env.gitRevision ? `, ${env.gitRevision.slice(0, 12)}` : ''),
  ];
  for (const scenario of results.scenarios) lines.push('', renderScenarioResult(scenario));
  const view = readPerformanceResults(results);
  // The table across scenarios is the one every rendering of the report shows.
  if (view && view.scenarios.length > 0)
    lines.push('', alignedTable([[...SUMMARY_HEADERS], ...view.scenarios.map(summaryRow)], ['left', 'left']));
  const matrix = view ? matrixTable(view) : undefined;
  if (matrix)
    lines.push(
      '',
      `server versions side by side (same scenarios, same seeds): ${results.servers!.join(', ')}`,
      alignedTable(matrix, ['left', 'left']),
    );
  const durability = view ? durabilityTable(view) : undefined;
  if (durability)
    lines.push(
      '',
      'durability per server version (acknowledged writes lost, replica divergence, nodes down, client errors):',
      alignedTable([[...durability.headers], ...durability.rows], ['left', 'left']),
      ...durability.notes.map((note) => `  ${note}`),
    );
  if (results.interrupted) lines.push('', 'interrupted (Ctrl-C): the figures cover what was measured until then');
  const run = runVerdictOf(results.scenarios, results.interrupted);
  lines.push('', `verdict: ${run.summary}`, `  ${failOnSentence(results.failOn ?? DEFAULT_FAIL_ON)}`);
  if (resultsFile) lines.push('', `results: ${resultsFile}`);
  return lines.join('\n');
}

export function renderScenarioResult(r: ScenarioResult): string {
  const versions =
    [...new Set(r.cluster.servers.map((s) => s.version).filter(Boolean))].join(', ') || 'unknown version';
  const build = r.cluster.serverBuild;
  const origin = build?.source ? ` (${build.source}${build.goVersion ? `, ${build.goVersion}` : ''})` : '';
  const { status, findings } = scenarioVerdict(r);
  const lines = [
    `${r.scenario}: ${status.toUpperCase()}${r.reason ? ` — ${r.reason}` : ''} (${r.seconds.toFixed(1)} s, seed ${r.seed}${r.repetition !== undefined ? `, repetition ${r.repetition}` : ''})`,
    ...findings.map((f) => `  finding: ${f}`),
    `  cluster: ${r.cluster.mode}, ${r.cluster.nodes} node(s) of nats-server ${versions}${origin}, R${r.cluster.replicas}, sync_interval ${r.cluster.syncIntervalInEffect}`,
    ...(build?.oldServerNote ? [`  note: ${build.oldServerNote}`] : []),
  ];
  const raw = r.baseline;
  if (raw) {
    lines.push(
      `  raw baseline: publish ${count(raw.publish.perSecond)} msgs/s, ordered read ${count(raw.read.perSecond)} msgs/s (${raw.payloadBytes} B, ${raw.inFlight} in flight, lost ${raw.lost})`,
    );
  }
  const rows: string[][] = [];
  for (const phase of r.phases) rows.push(...phaseRows(phase));
  if (rows.length > 0) lines.push(indent(alignedTable(rows, ['left', 'left', 'left']), 2));
  for (const c of driverComparisons(r.phases)) lines.push(`  ${driverComparisonLine(c)}`);
  if (r.checker) {
    const c = r.checker;
    lines.push(
      `  checker: ${count(c.attempted)} attempted, ${count(c.acknowledged)} acknowledged, ${count(c.failed)} refused, ${count(c.unknown)} unknown; ` +
        `read back ${count(c.readItems)} — lost ${c.lost}, unexpected ${c.unexpected}, duplicates ${c.duplicates}`,
    );
    if (c.lost > 0)
      lines.push(
        `    lost by command: ${Object.entries(c.lostBy ?? {})
          .map(([label, n]) => `${label} ${n}`)
          .join(', ')}`,
      );
    const sizes = c.streams.filter((st) => st.meanBytes > 0).map((st) => `${st.stream} ${st.meanBytes} B`);
    if (sizes.length > 0)
      lines.push(
        `    mean stored size of the run's events: ${sizes.join(', ')}${c.streams.some((st) => st.undecodable > 0) ? `; undecodable: ${c.streams.map((st) => `${st.stream} ${st.undecodable}`).join(', ')}` : ''}`,
      );
    for (const [kind, samples] of Object.entries(c.samples))
      if (samples.length > 0) lines.push(`    ${kind}: ${samples.slice(0, 5).join('; ')}`);
  }
  if (r.verification) {
    lines.push(
      `  verification: ${r.verification.domains.map((d) => `${d.domain} ${count(d.events)} events / ${d.seals} seals`).join(', ')} — ${r.verification.findings} finding(s)`,
    );
    for (const sample of r.verification.samples.slice(0, 5)) lines.push(`    ${sample}`);
  }
  lines.push(...replicaLines(r));
  for (const check of r.checks)
    lines.push(
      `  ${check.ok ? 'ok  ' : 'FAIL'} ${check.text}  (measured: ${check.actual === null ? 'not measured' : decimal(check.actual)})`,
    );
  return lines.join('\n');
}

function phaseRows(phase: PhaseResult): string[][] {
  const error = phase.error
    ? [[`${phase.type} ${phase.name}`, 'error', `${phase.error.code}: ${phase.error.message}`]]
    : [];
  switch (phase.type) {
    case 'load': {
      if (phase.error) return error;
      const target = phase.rate === 'max' ? `max, ${phase.concurrency} in flight` : `${count(phase.rate)}/s`;
      const errors = phase.failed + phase.unknown;
      const codes = Object.entries(phase.errorsByCode)
        .map(([code, n]) => `${code} ${n}`)
        .join(', ');
      return [
        [
          `load ${phase.name}`,
          `${phase.driver} at ${target}`,
          `${count(phase.opsPerSec)} ops/s = ${ratio(phase.ratioToRaw)} raw; p50 ${ms(phase.latency.p50Ms)}, p99 ${ms(phase.latency.p99Ms)}, p99.9 ${ms(phase.latency.p999Ms)}; ` +
            `${count(phase.ok)} ok, ${errors} errors${codes ? ` (${codes})` : ''}`,
        ],
      ];
    }
    case 'fault': {
      if (phase.error || !phase.fault) return error;
      const recovery = recoveryText(phase);
      return [
        [
          `fault ${phase.name}`,
          `at ${seconds(phase.fault.firedAtMs)}`,
          `${phase.fault.detail}${recovery ? `; ${recovery}` : ''}`,
        ],
      ];
    }
    case 'replay': {
      if (phase.error || !phase.replay) return error;
      const r = phase.replay;
      return [
        [
          `replay ${phase.name}`,
          r.replay.lastSeq < r.bestRaw.messages || r.replay.events < r.events
            ? `${r.projection} to seq ${r.replay.lastSeq}`
            : r.projection,
          `${count(r.replay.perSecond)} events/s = ${ratio(r.replayToRaw)} raw read (${count(r.bestRaw.perSecond)}/s, pull ${r.bestRaw.batch}); ${count(r.replay.events)} events`,
        ],
      ];
    }
    default:
      return error;
  }
}

function indent(text: string, spaces: number): string {
  return text
    .split('\n')
    .map((line) => ' '.repeat(spaces) + line)
    .join('\n');
}
