import { describe, expect, it } from 'vitest';
import {
  render,
  RENDER_EXTENSIONS,
  RENDER_FORMATS,
  renderHtml,
  renderJson,
  renderJUnit,
  renderMarkdown,
  toJsonValue,
} from '../../reports/index.js';
import { histogramCurve } from '../../reports/render/html.js';
import { mdText } from '../../reports/render/markdown.js';
import { renderBmf } from '../../reports/render/bmf.js';
import { benchResultsFixture, fakeCid, performanceReport } from '../fixtures/performance-report.js';
import type { BenchResults, LoadPhaseResult } from '../../scenarios/index.js';
import { wellFormedXml } from '../support/xml-well-formed.js';

const HOSTILE = '<script>alert(1)</script>';

describe('render', () => {
  it('given each format, when rendered, then it is the renderer of that format and has its extension', async () => {
    const named = await performanceReport();
    expect(render(named, 'json')).toBe(renderJson(named));
    expect(render(named, 'md')).toBe(renderMarkdown(named));
    expect(render(named, 'html')).toBe(renderHtml(named));
    expect(render(named, 'junit')).toBe(renderJUnit(named));
    expect(render(named, 'bmf')).toBe(renderBmf(named));
    expect(RENDER_FORMATS.map((f) => RENDER_EXTENSIONS[f])).toEqual([
      '.json',
      '.md',
      '.html',
      '.junit.xml',
      '.bmf.json',
    ]);
  });
});

describe('JSON rendering', () => {
  it('given a report, when rendered and parsed, then it is the report with CIDs as strings, bytes as base64 and the cid beside', async () => {
    const named = await performanceReport({ withBaseline: true });
    const parsed = JSON.parse(renderJson(named)) as Record<string, unknown>;
    expect(parsed.cid).toBe(named.cid.toString());
    expect(parsed.prev).toBe(named.report.prev!.toString());
    expect(parsed.signature).toBe(Buffer.alloc(64).toString('base64'));
    expect((parsed.baseline as { cid: string }).cid).toBe(named.report.baseline!.cid.toString());
    expect(parsed.results).toEqual(benchResultsFixture());
    expect(parsed.title).toBe(named.report.title);
    // NaN has no JSON form: null.
    expect((parsed.baseline as { comparisons: { pValue: unknown }[] }).comparisons[2]!.pValue).toBeNull();
  });

  it('given the same report with its keys in another order, when rendered, then the text is the same (keys sorted at every depth)', async () => {
    const named = await performanceReport();
    const reversed = Object.fromEntries(Object.entries(named.report).reverse()) as typeof named.report;
    expect(renderJson({ cid: named.cid, report: reversed })).toBe(renderJson(named));
    const keys = Object.keys(JSON.parse(renderJson(named)) as object);
    expect(keys).toEqual([...keys].sort());
  });

  it('given nested CIDs, bytes and undefined fields, when made JSON values, then they become strings and are dropped', async () => {
    const cid = await fakeCid('x');
    expect(toJsonValue({ b: [cid, new Uint8Array([1, 2, 3])], a: undefined, c: Infinity })).toEqual({
      b: [cid.toString(), 'AQID'],
      c: null,
    });
  });
});

describe('Markdown rendering', () => {
  it('given a performance report, when rendered, then the header names CID, kind, signer and environment', async () => {
    const named = await performanceReport();
    const md = renderMarkdown(named);
    expect(md).toMatch(/^# cim bench --quick\n/);
    expect(md).toContain(`\`${named.cid.toString()}\``);
    expect(md).toContain('**performance** report');
    expect(md).toContain('`ed25519:test-key`');
    expect(md).toContain('Environment: node v20.20.2, linux-x64, 2 × AMD EPYC');
    expect(md).toContain(`\`cim report verify ${named.cid.toString()}\``);
  });

  it('given the quick run, when rendered, then the scenario table has a row per scenario with its figures', async () => {
    const md = renderMarkdown(await performanceReport());
    expect(md).toContain(
      '| scenario | status | ops/s | × raw or offered | p50 ms | p99 ms | lost | unexp. | dup. | findings | recovery | longest stall | replay × raw |',
    );
    expect(md).toContain(
      '| quick-leader-kill | passed | 74 | 37.1 % of 200/s | 317 | 10,740 | 0 | 0 | 0 | 0 | 144 ms | 5.7 s | – |',
    );
    expect(md).toContain('| quick-replay | passed | 696 | 0.15× | 75.9 | 397 | 0 | 0 | 0 | 0 | – | – | 0.65× |');
    expect(md).toContain('## Scenarios: passed — 3 passed');
    expect(md).toContain('| quick-steady | passed | 199 | 99.6 % of 200/s |');
  });

  it('given a gated run, when rendered, then the verdict comes first, then the gate, the findings, the scenarios, and the details folded', async () => {
    const md = renderMarkdown(await performanceReport({ withBaseline: true }));
    const at = (marker: string) => md.indexOf(marker);
    expect(md.split('\n')[2]).toBe('**Verdict:** passed — 3 passed');
    const order: [string, string][] = [
      ['**Verdict:** passed', '## Gate against'],
      ['## Gate against', '## Findings'],
      ['## Findings', '## Scenarios: passed'],
      ['## Scenarios: passed', '## Scenario details'],
      ['<details>', '### quick-leader-kill: passed'],
      ['### quick-steady: passed', '</details>'],
    ];
    for (const [earlier, later] of order) expect(at(earlier), `${earlier} before ${later}`).toBeLessThan(at(later));
    expect(at('<details>')).toBeGreaterThan(at('## Scenario details'));
  });

  it('given a ramp (fixed steps, then full speed), when rendered, then it says the capacity found and the highest step delivered in full', async () => {
    const results = benchResultsFixture();
    const steady = results.scenarios.find((s) => s.scenario === 'quick-steady')!;
    const phases = steady.phases as Record<string, unknown>[];
    const load = phases.find((p) => p.type === 'load')!;
    phases.push(
      { ...load, name: 'rate-400', rate: 400, opsPerSec: 301.2 },
      { ...load, name: 'rate-max', rate: 'max', opsPerSec: 912.4 },
    );
    const named = await performanceReport({ results });
    const line =
      'capacity found: 912 ops/s at full speed (rate-max); the highest fixed rate delivered in full (≥ 95 %): 200/s';
    expect(renderMarkdown(named)).toContain(`- ${line}`);
    expect(renderHtml(named)).toContain(`<p><strong>${line}</strong></p>`);
    // Not a fixed-rate scenario any more: its headline rate is × raw again.
    expect(renderMarkdown(named)).toMatch(/\| quick-steady \| passed \| [\d,]+ \| [\d.]+× \|/);
  });

  it('given the quick run, when rendered, then ops/s is acks ÷ elapsed, and × raw that ÷ raw publishes/s at full speed, delivered ÷ offered at a fixed rate, from the raw counts', async () => {
    const md = renderMarkdown(await performanceReport());
    const scenarios = benchResultsFixture().scenarios as unknown as BenchResults['scenarios'];
    expect(scenarios).toHaveLength(3);
    for (const s of scenarios) {
      const loads = s.phases.filter((p): p is LoadPhaseResult => p.type === 'load');
      const acks = loads.reduce((n, p) => n + p.perSecond.reduce((m, second) => m + second.ok, 0), 0);
      const elapsed =
        (Math.max(...loads.map((p) => p.endedAtMs)) - Math.min(...loads.map((p) => p.startedAtMs))) / 1_000;
      const raw = s.baseline!.publish.messages / s.baseline!.publish.seconds;
      const row = md
        .split('\n')
        .find((line) => line.startsWith(`| ${s.scenario} | `))!
        .split(' | ');
      // At a fixed rate, ops/s ÷ raw is the offered load over capacity: the cell says what was delivered of it.
      const fixed = loads.every((p) => typeof p.rate === 'number');
      const offered = loads.reduce((n, p) => n + (p.rate as number) * ((p.endedAtMs - p.startedAtMs) / 1_000), 0);
      const delivered = loads.reduce((n, p) => n + p.opsPerSec * ((p.endedAtMs - p.startedAtMs) / 1_000), 0);
      expect(row.slice(2, 4)).toEqual([
        Math.round(acks / elapsed).toLocaleString('en-US'),
        fixed
          ? `${Number(((100 * delivered) / offered).toFixed(1))} % of ${loads[0]!.rate as number}/s`
          : `${(acks / elapsed / raw).toFixed(2)}×`,
      ]);
    }
  });

  it('given the quick run, when rendered, then each scenario shows its checks, faults and errors by code', async () => {
    const md = renderMarkdown(await performanceReport());
    expect(md).toContain('### quick-leader-kill: passed');
    expect(md).toContain('- ✓ `lost == 0`: measured 0.00');
    expect(md).toContain(
      // Results written before recovery was read off the delivered rate say which measure they hold.
      'killed n1 (leader of CIM\\_PERSON) with SIGKILL; started again after 7.9 s — fired at 4.1 s, healed at 12.0 s; recovery 144 ms (old measure: first failed operation to the next acknowledgement); longest stall 5.7 s',
    );
    expect(md).toContain('- `CIM-UNAVAILABLE`: 33');
    expect(md).toContain('**Checker** ✓: 1,452 attempted');
    expect(md).toContain('## Findings (2)\n\n### warning (1)');
  });

  it('given a failed check, when rendered, then it is marked ✗ with the measured value', async () => {
    const results = benchResultsFixture();
    (results.scenarios[2]!.checks as { ok: boolean; actual: number }[])[0] = {
      ok: false,
      actual: 3,
      text: 'lost == 0',
    } as never;
    expect(renderMarkdown(await performanceReport({ results }))).toContain('- ✗ `lost == 0`: measured 3.00');
  });

  it('given a baseline, when rendered, then the gate table lists regressions first with change, CI and p', async () => {
    const md = renderMarkdown(await performanceReport({ withBaseline: true }));
    expect(md).toContain(': **regressed**');
    const rows = md.split('\n').filter((l) => /^\| quick-[a-z-]+ \| [a-z0-9\\_]+ \(/.test(l));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toBe(
      '| quick-replay | p99\\_ms (lower is better) | 300 (n=5) | 397 (n=5) | +32.2 % | 95 % \\[+21.0 %, +44.0 %\\] | &lt; 0.001 | regressed |',
    );
    expect(rows[1]).toContain('insufficient-data');
    expect(rows[2]).toContain('unchanged');
  });

  it('given hostile text, when rendered, then it stays text: no HTML, no broken table', async () => {
    const results = benchResultsFixture();
    results.scenarios[0]!.scenario = `a|b ${HOSTILE}\nnext`;
    const md = renderMarkdown(await performanceReport({ title: HOSTILE, results }));
    expect(md).not.toContain('<script>');
    expect(md).toContain('# &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(md).toContain('| a\\|b &lt;script&gt;alert(1)&lt;/script&gt; next | passed |');
    expect(mdText('*bold* [link](x) `code`')).toBe('\\*bold\\* \\[link\\](x) \\`code\\`');
  });
});

describe('JUnit rendering', () => {
  it('given the quick run with a baseline, when rendered, then it is well-formed XML with a suite per scenario and a gate suite', async () => {
    const xml = renderJUnit(await performanceReport({ withBaseline: true }));
    const { root, elements } = wellFormedXml(xml);
    expect(root).toBe('testsuites');
    expect(elements.filter((e) => e === 'testsuite')).toHaveLength(4);
    expect(xml).toMatch(
      /<testsuite name="quick-leader-kill" tests="6" failures="0" errors="0" skipped="0" time="28.110"/,
    );
    expect(xml).toMatch(/<testsuite name="quick-replay" tests="5" failures="0"/);
    // The comparison without enough data fails the gate too: it cannot pass on it.
    expect(xml).toMatch(/<testsuite name="gate" tests="3" failures="2" errors="0" skipped="0"/);
    expect(xml).toMatch(/<testsuites name="[^"]+" tests="21" failures="2" errors="0" skipped="0" time="\d+\.\d{3}"/);
    expect(xml).toMatch(/<failure message="insufficient data: [^"]+" type="insufficient-data">/);
    expect(xml).toContain(
      '<failure message="p99_ms 300 → 397 (lower is better): change +32.2 %, CI [+21.0 %, +44.0 %], p &lt; 0.001 (Holm), threshold 5 %" type="regression">',
    );
  });

  it('given a gate that allowed missing data, when rendered, then the comparison without data is skipped, not failed', async () => {
    const named = await performanceReport({ withBaseline: true });
    named.report.baseline!.allowMissing = true;
    const xml = renderJUnit(named);
    expect(xml).toMatch(/<testsuite name="gate" tests="3" failures="1" errors="0" skipped="1"/);
    expect(xml).toContain('insufficient data (allowed): ');
  });

  it('given a failed check, loss the checker found and an errored scenario, when rendered, then the check fails, the loss is a finding and the error an error', async () => {
    const results = benchResultsFixture();
    const steady = results.scenarios[2]!;
    (steady.checks as { ok: boolean; actual: number | null }[])[0]!.ok = false;
    (steady.checks as { ok: boolean; actual: number | null }[])[0]!.actual = 2;
    Object.assign(steady.checker as object, {
      lost: 2,
      ok: false,
      samples: { lost: ['person/p-1 & <x>'], unexpected: [], duplicates: [] },
    });
    Object.assign(results.scenarios[1]!, { status: 'error', reason: 'nats-server "n2" exited\n(code 1)' });
    const xml = renderJUnit(await performanceReport({ results }));
    wellFormedXml(xml);
    expect(xml).toMatch(/<testsuite name="quick-steady" tests="7" failures="1" errors="0"/);
    expect(xml).toContain('<failure message="lost == 0: measured 2.00" type="check">');
    // The checker's figures and samples are reported; the loss is the findings case's, a failure only with --fail-on finding.
    expect(xml).toContain('lost: person/p-1 &amp; &lt;x&gt;</system-out>');
    expect(xml).toContain('<property name="verdict" value="failed"/>');
    expect(xml).toContain('<property name="finding" value="lost 2 acknowledged events"/>');
    expect(xml).toMatch(/<testsuite name="quick-replay" tests="6" failures="0" errors="1"/);
    expect(xml).toContain('message="nats-server &quot;n2&quot; exited&#10;(code 1)" type="error"');
    expect(xml).toMatch(/<testsuites [^>]*tests="19" failures="1" errors="1" skipped="0"/);
    const failing = renderJUnit(await performanceReport({ results: { ...results, failOn: 'finding' } }));
    expect(failing).toMatch(/<testsuite name="quick-steady" tests="7" failures="2" errors="0"/);
    expect(failing).toContain('<failure message="lost 2 acknowledged events" type="finding">');
  });

  it('given a hostile title and a compliance report, when rendered, then the title is escaped and findings are the cases', async () => {
    const named = await performanceReport({ title: HOSTILE });
    named.report.kind = 'compliance';
    named.report.findings.push({
      id: 'seal-mismatch',
      severity: 'error',
      message: 'seal 3 of "person" does not cover <its> events',
    });
    const xml = renderJUnit(named);
    wellFormedXml(xml);
    expect(xml).not.toContain('<script>');
    expect(xml).toMatch(/<testsuite name="findings" tests="3" failures="1"/);
  });
});

describe('HTML rendering', () => {
  it('given the quick run, when rendered, then it is one page with nothing external: no URL, no src, no script, no link', async () => {
    const html = renderHtml(await performanceReport({ withBaseline: true }));
    expect(html).toMatch(/^<!DOCTYPE html>\n<html lang="en">/);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    );
    for (const forbidden of [
      /https?:\/\//i,
      /\ssrc\s*=/i,
      /<script/i,
      /<link/i,
      /<img/i,
      /<iframe/i,
      /@import/i,
      /url\(/i,
      /\son[a-z]+\s*=/i,
    ])
      expect(html).not.toMatch(forbidden);
  });

  it('given the quick run, when rendered, then each scenario has its charts, each an accessible image', async () => {
    const html = renderHtml(await performanceReport({ withBaseline: true }));
    for (const scenario of ['quick-leader-kill', 'quick-replay', 'quick-steady']) {
      for (const chart of [
        'throughput over time',
        'p99 latency over time',
        'server CPU per node',
        'server memory per node',
        'latency by percentile',
        'phases, faults and recovery',
      ]) {
        expect(html).toContain(`role="img" aria-label="${scenario}: ${chart}"`);
      }
    }
    // The ratio to raw only where a phase ran at full speed: quick-replay's load and its replay.
    expect(html).toContain('role="img" aria-label="quick-replay: ratio to the raw baseline"');
    expect(html).not.toContain('aria-label="quick-steady: ratio to the raw baseline"');
    expect(html.match(/<svg /g)).toHaveLength(1 + 3 * 6 + 1);
    expect(html.match(/<svg [^>]*role="img" aria-label="[^"]+"[^>]*>\n<title>/g)).toHaveLength(20);
    expect(html).not.toMatch(/NaN|undefined|Infinity/);
  });

  it('given a fault, when rendered, then the throughput chart marks it from firing to healing, labelled with its action', async () => {
    const html = renderHtml(await performanceReport());
    const throughput = html.slice(html.indexOf('aria-label="quick-leader-kill: throughput over time"'));
    expect(throughput.slice(0, throughput.indexOf('</svg>'))).toMatch(
      /<g class="band"><title>kill n1<\/title><rect [^>]*>.*>kill n1<\/text><\/g>/,
    );
  });

  it('given the quick run, when rendered, then tables have column and row headers, and the gate, findings and checks are there', async () => {
    const html = renderHtml(await performanceReport({ withBaseline: true }));
    expect(html).toContain('<th scope="col">scenario</th>');
    expect(html).toContain('<th scope="row"><a href="#scenario-quick-steady">quick-steady</a></th>');
    expect(html).toContain('<section class="scenario" id="scenario-quick-steady">');
    expect(html).toContain(
      '<th scope="row">lost == 0</th><td data-label="result">✓ ok</td><td class="num" data-label="measured">0.00</td>',
    );
    expect(html).toContain('<span class="bad">regressed</span>');
    expect(html.indexOf('<th scope="row">quick-replay</th><td data-label="metric">p99_ms')).toBeLessThan(
      html.indexOf('<th scope="row">quick-steady</th><td data-label="metric">ops_per_sec'),
    );
    // Verdict first, then the gate's regressions and the findings, then the scenarios' detail.
    const at = (marker: string) => html.indexOf(marker);
    expect(at('class="cards"')).toBeGreaterThan(0);
    expect(at('class="cards"')).toBeLessThan(at('<nav class="toc"'));
    expect(at('<nav class="toc"')).toBeLessThan(at('<section id="gate">'));
    expect(at('<section id="gate">')).toBeLessThan(at('<section id="findings">'));
    expect(at('<section id="findings">')).toBeLessThan(at('<section id="scenarios">'));
    expect(at('<section id="scenarios">')).toBeLessThan(at('<section class="scenario"'));
    const toc = html.slice(at('<nav class="toc"'), html.indexOf('</nav>'));
    for (const id of ['gate', 'findings', 'scenarios', 'scenario-quick-leader-kill', 'scenario-quick-replay'])
      expect(toc).toContain(`<a href="#${id}">`);
    expect(html).toContain('<code>slow-recovery</code> quick-leader-kill stalled 5.7 s');
    expect(html).toContain('cim report verify bafy');
  });

  it('given a hostile title and scenario name, when rendered, then they are escaped everywhere', async () => {
    const results = benchResultsFixture();
    results.scenarios[0]!.scenario = HOSTILE;
    const html = renderHtml(await performanceReport({ title: HOSTILE, results }));
    expect(html).not.toContain('<script>');
    expect(html).toContain('<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>');
    expect(html).toContain('<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>');
  });

  it('given results that lack fields, when rendered, then every format still renders and shows "–"', async () => {
    const results = benchResultsFixture();
    for (const s of results.scenarios) {
      delete s.metrics;
      delete s.checker;
      delete s.cluster;
      for (const p of s.phases as Record<string, unknown>[]) {
        delete p.latency;
        delete p.perSecond;
        delete p.fault;
      }
    }
    const named = await performanceReport({ results });
    for (const format of RENDER_FORMATS) expect(render(named, format).length).toBeGreaterThan(100);
    // Delivered ÷ offered is read off the phases, which still say their rate and ops/s.
    expect(renderMarkdown(named)).toContain('| quick-steady | passed | – | 99.6 % of 200/s | – | – |');
    expect(renderHtml(named)).not.toMatch(/NaN|undefined|Infinity/);
    wellFormedXml(renderJUnit(named));
  });

  it('given results that are not a results document, when rendered, then the page says so', async () => {
    const named = await performanceReport({ results: 'garbage' });
    expect(renderHtml(named)).toContain('not a performance results document');
    expect(renderMarkdown(named)).toContain('not a performance results document');
  });

  it('given a load phase histogram, when decoded, then the curve rises from p50 to p99.99 in ms; garbage gives no curve', () => {
    const load = (
      benchResultsFixture().scenarios[2]!.phases as { latency: { histogram: string; p50Ms: number; p99Ms: number } }[]
    )[0]!;
    const curve = histogramCurve(load.latency.histogram)!;
    expect(curve[0]![0]).toBeCloseTo(50);
    expect(curve[curve.length - 1]![0]).toBeCloseTo(99.99);
    expect(curve[0]![1]).toBeCloseTo(load.latency.p50Ms, 0);
    expect(curve.every(([, v], i) => i === 0 || v >= curve[i - 1]![1])).toBe(true);
    expect(histogramCurve('not a histogram')).toBeUndefined();
  });
});
