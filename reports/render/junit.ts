// The report as JUnit XML, the format CI systems show as test results: a suite per scenario (a
// case per check, one for the checker, one for verification), a `gate` suite when the report was
// compared with a baseline (a case per comparison, failing when it regressed), and for reports
// that are not performance reports a `findings` suite (critical, high and error findings fail).
import { escapeXml } from '../svg/escape.js';
import { failingSeverity, type GateComparison, type NamedReport } from '../types.js';
import { cidText, count, decimal, percent, pValue, share } from './format.js';
import { gateCenter } from './summary.js';
import { readPerformanceResults, type ScenarioView } from './performance-view.js';

interface TestCase {
  name: string;
  classname: string;
  time?: number;
  failure?: { message: string; type: string; text?: string };
  error?: { message: string; type: string };
  skipped?: string;
}

interface TestSuite {
  name: string;
  time: number;
  timestamp?: string;
  cases: TestCase[];
}

export function renderJUnit(named: NamedReport): string {
  const { report } = named;
  const suites: TestSuite[] = [];
  const view = report.kind === 'performance' ? readPerformanceResults(report.results) : undefined;
  if (view) suites.push(...view.scenarios.map(scenarioSuite));
  if (report.baseline) suites.push(gateSuite(report.baseline.comparisons, report.baseline.allowMissing === true));
  if (!view) {
    suites.push({
      name: 'findings',
      time: 0,
      cases: report.findings.map((f) => ({
        name: f.id,
        classname: `${report.kind}.findings`,
        ...(failingSeverity(f.severity) ? { failure: { message: f.message, type: f.severity } } : {}),
      })),
    });
  }
  return xmlDocument(`${report.title} (${cidText(named.cid)})`, suites);
}

function scenarioSuite(s: ScenarioView): TestSuite {
  const classname = `scenario.${s.scenario}`;
  const cases: TestCase[] = [];
  if (s.status === 'error' || s.status === 'interrupted') {
    cases.push({ name: 'run', classname, error: { message: s.reason ?? s.status, type: s.status } });
  } else if (s.status === 'skipped') {
    cases.push({ name: 'run', classname, skipped: s.reason ?? 'skipped' });
  }
  for (const check of s.checks) {
    const measured = check.actual === null ? 'not measured' : `measured ${decimal(check.actual)}`;
    cases.push({
      name: check.text,
      classname,
      ...(check.ok ? {} : { failure: { message: `${check.text}: ${measured}`, type: 'check' } }),
    });
  }
  if (s.checker) {
    const k = s.checker;
    const ok = k.ok ?? ((k.lost ?? 0) === 0 && (k.unexpected ?? 0) === 0 && (k.duplicates ?? 0) === 0);
    const figures = `lost ${count(k.lost)}, unexpected ${count(k.unexpected)}, duplicates ${count(k.duplicates)} of ${count(k.acknowledged)} acknowledged`;
    const samples = k.samples
      ? Object.entries(k.samples)
          .filter(([, v]) => v.length > 0)
          .map(([kind, v]) => `${kind}: ${v.slice(0, 10).join(', ')}`)
      : [];
    cases.push({
      name: 'checker: lost, unexpected, duplicates',
      classname,
      ...(ok ? {} : { failure: { message: figures, type: 'checker', text: samples.join('\n') } }),
    });
  }
  if (s.verification) {
    const v = s.verification;
    const ok = (v.findings ?? 0) === 0;
    cases.push({
      name: 'verification',
      classname,
      ...(ok
        ? {}
        : {
            failure: { message: `${count(v.findings)} finding(s)`, type: 'verification', text: v.samples.join('\n') },
          }),
    });
  }
  return { name: s.scenario, time: s.seconds ?? 0, ...(s.startedAt ? { timestamp: s.startedAt } : {}), cases };
}

/**
 * One testcase per comparison: a regression fails; a comparison without enough data fails too
 * (type `insufficient-data`: the gate cannot pass on it) unless the gate allowed it, then it is skipped.
 */
function gateSuite(comparisons: readonly GateComparison[], allowMissing: boolean): TestSuite {
  return {
    name: 'gate',
    time: 0,
    cases: comparisons.map((c) => {
      const name = `${c.scenario} ${c.metric}`;
      const figures =
        `${c.metric} ${decimal(gateCenter(c.baseline))} → ${decimal(gateCenter(c.candidate))} (${c.better} is better): change ${percent(c.relativeChange)}, ` +
        `CI [${percent(c.confidenceInterval[0])}, ${percent(c.confidenceInterval[1])}], p ${pValue(c.adjustedPValue ?? c.pValue)} (Holm), threshold ${share(c.threshold)}`;
      if (c.verdict === 'regressed')
        return { name, classname: 'gate', failure: { message: figures, type: 'regression' } };
      if (c.verdict === 'insufficient-data')
        return allowMissing
          ? { name, classname: 'gate', skipped: `insufficient data (allowed): ${figures}` }
          : {
              name,
              classname: 'gate',
              failure: { message: `insufficient data: ${figures}`, type: 'insufficient-data' },
            };
      return { name, classname: 'gate' };
    }),
  };
}

function xmlDocument(name: string, suites: readonly TestSuite[]): string {
  const totals = { tests: 0, failures: 0, errors: 0, skipped: 0, time: 0 };
  const body: string[] = [];
  for (const suite of suites) {
    const t = tally(suite);
    totals.tests += t.tests;
    totals.failures += t.failures;
    totals.errors += t.errors;
    totals.skipped += t.skipped;
    totals.time += suite.time;
    body.push(
      `  <testsuite ${attrs({ name: suite.name, tests: t.tests, failures: t.failures, errors: t.errors, skipped: t.skipped, time: secondsAttr(suite.time), ...(suite.timestamp ? { timestamp: suite.timestamp } : {}) })}>`,
    );
    for (const c of suite.cases) body.push(...testCase(c));
    body.push('  </testsuite>');
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites ${attrs({ name, tests: totals.tests, failures: totals.failures, errors: totals.errors, skipped: totals.skipped, time: secondsAttr(totals.time) })}>`,
    ...body,
    '</testsuites>',
    '',
  ].join('\n');
}

function testCase(c: TestCase): string[] {
  const open = `    <testcase ${attrs({ name: c.name, classname: c.classname, time: secondsAttr(c.time ?? 0) })}`;
  if (c.failure) {
    const text = c.failure.text ? `${escapeXml(c.failure.text)}` : '';
    return [
      `${open}>`,
      `      <failure ${attrs({ message: c.failure.message, type: c.failure.type })}>${text}</failure>`,
      '    </testcase>',
    ];
  }
  if (c.error)
    return [`${open}>`, `      <error ${attrs({ message: c.error.message, type: c.error.type })}/>`, '    </testcase>'];
  if (c.skipped !== undefined)
    return [`${open}>`, `      <skipped ${attrs({ message: c.skipped })}/>`, '    </testcase>'];
  return [`${open}/>`];
}

function tally(suite: TestSuite): { tests: number; failures: number; errors: number; skipped: number } {
  return {
    tests: suite.cases.length,
    failures: suite.cases.filter((c) => c.failure).length,
    errors: suite.cases.filter((c) => c.error).length,
    skipped: suite.cases.filter((c) => c.skipped !== undefined).length,
  };
}

function attrs(values: Record<string, string | number>): string {
  // Attribute values also lose their line breaks to the XML normaliser; write them as references.
  return Object.entries(values)
    .map(
      ([k, v]) =>
        `${k}="${escapeXml(String(v)).replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;')}"`,
    )
    .join(' ');
}

function secondsAttr(s: number): string {
  return Number.isFinite(s) && s >= 0 ? s.toFixed(3) : '0.000';
}
