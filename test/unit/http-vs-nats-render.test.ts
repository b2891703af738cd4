// HTTP against NATS in the report: which phases are paired (an http phase with the nats phase of
// the same mix), the ratios, and that the terminal, Markdown, HTML and JUnit renderings all show them.
import { describe, expect, it } from 'vitest';
import {
  driverComparisonLine,
  driverComparisons,
  renderHtml,
  renderJUnit,
  renderMarkdown,
  type ComparableLoad,
} from '../../reports/index.js';
import { renderScenarioResult, type ScenarioResult } from '../../scenarios/index.js';
import { scenarioMetrics } from '../../scenarios/metrics.js';
import { benchResultsFixture, performanceReport } from '../fixtures/performance-report.js';

const MIX = 'person.RegisterPerson×2, person.RenamePerson×3';
const load = (name: string, driver: string, opsPerSec: number, p: [number, number, number], mix = MIX) =>
  ({
    type: 'load',
    name,
    driver,
    mix,
    opsPerSec,
    latency: { p50Ms: p[0], p99Ms: p[1], p999Ms: p[2] },
  }) satisfies ComparableLoad;

describe('driverComparisons', () => {
  it('given an http and a nats phase of the same mix, then each figure is http ÷ nats', () => {
    expect(driverComparisons([load('n', 'nats', 1_000, [2, 10, 20]), load('h', 'http', 800, [3, 12, 30])])).toEqual([
      { http: 'h', nats: 'n', throughput: 0.8, p50: 1.5, p99: 1.2, p999: 1.5 },
    ]);
  });

  it('pairs only phases of the same mix, never an errored, raw or mixless phase, the first nats phase first', () => {
    const other = load('n2', 'nats', 500, [1, 1, 1], 'person.RenamePerson×1');
    const broken = { ...load('n3', 'nats', 1, [1, 1, 1]), error: { code: 'CIM-X', message: 'x' } };
    const raw = { ...load('r', 'raw', 9_000, [1, 1, 1]), mix: undefined };
    const http = load('h', 'http', 400, [2, 2, 2]);
    expect(driverComparisons([other, broken, raw, http])).toEqual([]);
    const [c] = driverComparisons([
      other,
      broken,
      load('n', 'nats', 800, [1, 1, 1]),
      load('n4', 'nats', 1, [1, 1, 1]),
      http,
    ]);
    expect(c).toMatchObject({ nats: 'n', throughput: 0.5, p50: 2 });
    expect(
      driverComparisons([
        { ...http, mix: undefined },
        { ...load('n', 'nats', 1, [1, 1, 1]), mix: undefined },
      ]),
    ).toEqual([]);
  });

  it('gives NaN, rendered "–", where the nats figure is 0 or missing', () => {
    const [c] = driverComparisons([
      { ...load('n', 'nats', 0, [0, 1, 1]), latency: undefined },
      load('h', 'http', 5, [1, 1, 1]),
    ]);
    expect([c!.throughput, c!.p50]).toEqual([NaN, NaN]);
    expect(driverComparisonLine(c!)).toBe('http ÷ nats (h ÷ n, same mix): throughput –, p50 –, p99 –, p99.9 –');
  });
});

/** The quick run's quick-steady scenario with its load phase run twice, over NATS and over HTTP. */
function versusScenario(): ScenarioResult {
  const results = benchResultsFixture();
  const steady = results.scenarios.find((s) => s.scenario === 'quick-steady') as unknown as ScenarioResult;
  const [phase, check] = steady.phases as [Extract<ScenarioResult['phases'][number], { type: 'load' }>, never];
  const nats = {
    ...phase,
    name: 'over-nats',
    mix: MIX,
    opsPerSec: 1_000,
    latency: { ...phase.latency, p50Ms: 2, p99Ms: 10, p999Ms: 20 },
  };
  const http = {
    ...phase,
    name: 'over-http',
    driver: 'http',
    mix: MIX,
    opsPerSec: 800,
    latency: { ...phase.latency, p50Ms: 3, p99Ms: 12, p999Ms: 30 },
  };
  const scenario = { ...steady, scenario: 'http-vs-nats', phases: [nats, http, check] } as ScenarioResult;
  scenario.metrics = scenarioMetrics(scenario);
  scenario.checks = [
    ...steady.checks,
    { text: 'http_to_nats_throughput > 0', ok: true, actual: scenario.metrics.http_to_nats_throughput! },
  ];
  return scenario;
}

describe('HTTP against NATS in every rendering', () => {
  const line = 'http ÷ nats (over-http ÷ over-nats, same mix): throughput 0.80×, p50 1.50×, p99 1.20×, p99.9 1.50×';

  it('derives the http_to_nats metrics an assertion can name', () => {
    expect(versusScenario().metrics).toMatchObject({
      http_to_nats_throughput: 0.8,
      http_to_nats_p50_ms: 1.5,
      http_to_nats_p99_ms: 1.2,
      http_to_nats_p999_ms: 1.5,
    });
  });

  it('shows each phase’s driver and the ratios in the terminal, Markdown and HTML, and the check in JUnit', async () => {
    const scenario = versusScenario();
    const terminal = renderScenarioResult(scenario);
    expect(terminal).toMatch(/load over-nats +nats at 200\/s/);
    expect(terminal).toMatch(/load over-http +http at 200\/s/);
    expect(terminal).toContain(`  ${line}`);

    const named = await performanceReport({ results: { ...benchResultsFixture(), scenarios: [scenario] } });
    const md = renderMarkdown(named);
    expect(md).toContain('| over-http | load | http at 200/s: 800 ops/s');
    expect(md).toContain(`- ${line}`);

    const html = renderHtml(named);
    expect(html).toContain(
      '<caption>HTTP against NATS: each figure of the http phase ÷ that of the nats phase</caption>',
    );
    expect(html).toContain(
      '<th scope="row">over-http ÷ over-nats</th><td class="num" data-label="throughput">0.80×</td><td class="num" data-label="p50">1.50×</td><td class="num" data-label="p99">1.20×</td><td class="num" data-label="p99.9">1.50×</td>',
    );

    expect(renderJUnit(named)).toContain(
      '<testcase name="http_to_nats_throughput &gt; 0" classname="scenario.http-vs-nats"',
    );
  });
});
