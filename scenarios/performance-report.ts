// A `cim bench` run as a performance report: the results carried as they are, the environment
// they were measured in, and findings for everything that did not hold — a failed check, a loss
// or duplicate the checker found, a verification finding, a scenario that errored.
import {
  scenarioVerdict,
  type NewReport,
  type ReportBaseline,
  type ReportEnvironment,
  type ReportFinding,
} from '../reports/index.js';
import type { BenchResults, ScenarioResult } from './results.js';

export function performanceReport(
  results: BenchResults,
  config: Record<string, unknown>,
  baseline?: ReportBaseline,
): NewReport {
  const servers = new Map<string, ReportEnvironment['natsServers'][number]>();
  const notes = new Set<string>();
  for (const s of results.scenarios) {
    const build = s.cluster.serverBuild;
    if (build?.oldServerNote) notes.add(build.oldServerNote);
    for (const server of s.cluster.servers) {
      // Names repeat across scenarios (n1, n2, …): the same node name on another version is another server.
      const key = `${server.name} ${server.version ?? ''}`;
      servers.set(key, {
        name: server.name,
        ...(server.version ? { version: server.version } : {}),
        ...(build?.source ? { source: build.source } : {}),
        ...(build?.goVersion ? { goVersion: build.goVersion } : {}),
      });
    }
  }
  const names = results.scenarios.map((s) => s.scenario);
  return {
    kind: 'performance',
    title: `cim bench: ${names.length} scenario(s)${results.interrupted ? ' (interrupted)' : ''} — ${names.slice(0, 4).join(', ')}${names.length > 4 ? ', …' : ''}`,
    environment: {
      ...results.environment,
      natsServers: [...servers.values()],
      ...(notes.size > 0 ? { notes: [...notes] } : {}),
    },
    config,
    scenario: names,
    results,
    findings: [...results.scenarios.flatMap(findingsOf), ...(baseline ? gateFindings(baseline) : [])],
    ...(baseline ? { baseline } : {}),
  };
}

function findingsOf(s: ScenarioResult): ReportFinding[] {
  const findings: ReportFinding[] = [];
  const id = (what: string) => `${what}:${s.scenario}`;
  if (s.status === 'error')
    findings.push({
      id: id('scenario-error'),
      severity: 'error',
      message: `${s.scenario} did not complete: ${s.reason ?? 'unknown error'}`,
    });
  if (s.status === 'skipped')
    findings.push({
      id: id('scenario-skipped'),
      severity: 'info',
      message: `${s.scenario} was skipped: ${s.reason ?? ''}`,
    });
  if (s.status === 'interrupted')
    findings.push({
      id: id('scenario-interrupted'),
      severity: 'warning',
      message: `${s.scenario} was interrupted; its figures cover what was measured until then`,
    });
  for (const check of s.checks) {
    if (!check.ok)
      findings.push({
        id: id(`check-failed:${check.text}`),
        severity: 'error',
        message: `${s.scenario}: ${check.text} does not hold (measured ${check.actual ?? 'nothing'})`,
        evidence: { measured: check.actual },
      });
  }
  const c = s.checker;
  if (c) {
    for (const [kind, count] of [
      ['lost', c.lost],
      ['unexpected', c.unexpected],
      ['duplicates', c.duplicates],
    ] as const) {
      if (count > 0) {
        findings.push({
          id: id(`checker-${kind}`),
          severity: 'error',
          message: `${s.scenario}: the checker found ${count} ${kind === 'lost' ? 'acknowledged events lost' : kind === 'unexpected' ? 'unexpected events' : 'duplicates'}`,
          evidence: { count, samples: c.samples[kind] },
        });
      }
    }
  }
  if (s.verification && s.verification.findings > 0) {
    findings.push({
      id: id('verification'),
      severity: 'error',
      message: `${s.scenario}: ${s.verification.findings} chain or seal verification finding(s)`,
      evidence: { samples: s.verification.samples },
    });
  }
  // Replicas that diverge and nodes that did not start again, as the verdict model names them.
  const lines = scenarioVerdict(s).findings;
  const divergences = lines.filter((l) => /^(replica |\d+ replica divergence)/.test(l));
  if (divergences.length > 0)
    findings.push({
      id: id('replica-divergence'),
      severity: 'error',
      message: `${s.scenario}: ${divergences.join('; ')}`,
    });
  const down = lines.filter((l) => /did not start again/.test(l));
  if (down.length > 0)
    findings.push({ id: id('node-stayed-down'), severity: 'error', message: `${s.scenario}: ${down.join('; ')}` });
  return findings;
}

function gateFindings(baseline: ReportBaseline): ReportFinding[] {
  return baseline.comparisons
    .filter((c) => c.verdict === 'regressed')
    .map((c) => ({
      id: `gate-regression:${c.scenario}:${c.metric}`,
      severity: 'error' as const,
      message: `${c.scenario}: ${c.metric} regressed by ${(Math.abs(c.relativeChange) * 100).toFixed(1)} % (median ${c.baseline.median} → ${c.candidate.median}, p = ${c.pValue.toPrecision(2)})`,
      evidence: { confidenceInterval: c.confidenceInterval, threshold: c.threshold },
    }));
}
