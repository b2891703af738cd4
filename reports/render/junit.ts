// The report as JUnit XML, the format CI systems show as test results: a suite per scenario (a
// case per check, one for the checker, one for verification, one for the findings), a `gate` suite
// when the report was compared with a baseline (a case per comparison, failing when it regressed),
// and for reports that are not performance reports a `findings` suite (critical, high and error
// findings fail). The verdict is the one model's (reports/verdict.ts): a failed check is a
// <failure>, an errored or interrupted run an <error>; a `finding` is a <failure> of the findings
// case only when the run was asked to fail on findings (`cim bench --fail-on finding`), otherwise
// that case passes with the findings in its <system-out> and the verdict in the suite's properties —
// so a CI system shows the same pass or fail as the exit code.
import { escapeXml } from '../svg/escape.js';
import { failingSeverity, type GateComparison, type NamedReport } from '../types.js';
import { cidText, count, decimal, percent, pValue, share } from './format.js';
import { gateCenter } from './summary.js';
import { readPerformanceResults, type ScenarioView } from './performance-view.js';
import { DEFAULT_FAIL_ON, scenarioVerdict, type FailOn } from '../verdict.js';

interface TestCase {
  name: string;
  classname: string;
  time?: number;
  failure?: { message: string; type: string; text?: string };
  error?: { message: string; type: string };
  skipped?: string;
  systemOut?: string;
}

interface TestSuite {
  name: string;
  time: number;
  timestamp?: string;
  properties?: [string, string][];
  cases: TestCase[];
}

export function renderJUnit(named: NamedReport): string {
  const { report } = named;
  const suites: TestSuite[] = [];
  const view = report.kind === 'performance' ? readPerformanceResults(report.results) : undefined;
  if (view) suites.push(...view.scenarios.map((s) => scenarioSuite(s, view.failOn ?? DEFAULT_FAIL_ON)));
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

function scenarioSuite(s: ScenarioView, failOn: FailOn): TestSuite {
  const classname = `scenario.${s.scenario}`;
  const cases: TestCase[] = [];
  const { status, findings } = scenarioVerdict(s);
  if (status === 'error' || status === 'interrupted') {
    cases.push({ name: 'run', classname, error: { message: s.reason ?? status, type: status } });
  } else if (status === 'skipped') {
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
  // The checker's and verification's figures are reported here; whether they fail is the findings case's.
  if (s.checker) {
    const k = s.checker;
    const figures = `lost ${count(k.lost)}, unexpected ${count(k.unexpected)}, duplicates ${count(k.duplicates)} of ${count(k.acknowledged)} acknowledged`;
    const samples = k.samples
      ? Object.entries(k.samples)
          .filter(([, v]) => v.length > 0)
          .map(([kind, v]) => `${kind}: ${v.slice(0, 10).join(', ')}`)
      : [];
    cases.push({
      name: 'checker: lost, unexpected, duplicates',
      classname,
      systemOut: [figures, ...samples].join('\n'),
    });
  }
  if (s.verification) {
    const v = s.verification;
    cases.push({
      name: 'verification',
      classname,
      systemOut: [`${count(v.findings)} finding(s)`, ...v.samples].join('\n'),
    });
  }
  if (s.checker || s.verification || findings.length > 0) {
    const message = findings.length > 0 ? findings.join('; ') : 'none';
    cases.push({
      name: 'findings: loss, verification, replicas, nodes',
      classname,
      ...(findings.length > 0 && failOn === 'finding'
        ? { failure: { message, type: 'finding', text: findings.join('\n') } }
        : {
            systemOut:
              findings.length > 0 ? `${findings.join('\n')}\n(not a failure: run without --fail-on finding)` : 'none',
          }),
    });
  }
  return {
    name: s.scenario,
    time: s.seconds ?? 0,
    ...(s.startedAt ? { timestamp: s.startedAt } : {}),
    properties: [['verdict', status], ['fail-on', failOn], ...findings.map((f): [string, string] => ['finding', f])],
    cases,
  };
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
    if (suite.properties && suite.properties.length > 0)
      body.push(
        '    <properties>',
        ...suite.properties.map(([name, value]) => `      <property ${attrs({ name, value })}/>`),
        '    </properties>',
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
  if (c.systemOut !== undefined)
    return [`${open}>`, `      <system-out>${escapeXml(c.systemOut)}</system-out>`, '    </testcase>'];
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
