import { describe, expect, it } from 'vitest';
import {
  barChart,
  escapeXml,
  formatTick,
  lineChart,
  linearScale,
  niceStep,
  niceTicks,
  percentileTicks,
  percentileToAxis,
  timeline,
} from '../../reports/svg/index.js';
import { wellFormedXml } from '../support/xml-well-formed.js';

const HOSTILE = '<script>alert("x&y")</script>';

describe('nice ticks', () => {
  it('given a range, when ticked, then the steps are 1, 2 or 5 × 10ⁿ and cover it', () => {
    expect(niceStep(0.7)).toBe(0.5);
    expect(niceStep(23)).toBe(20);
    expect(niceStep(4_100)).toBe(5_000);
    const t = niceTicks(3, 97, 5);
    expect(t).toMatchObject({ min: 0, max: 100, step: 20 });
    expect(t.values).toEqual([0, 20, 40, 60, 80, 100]);
  });

  it('given fractional steps, when ticked, then the values carry no floating-point noise', () => {
    expect(niceTicks(0, 0.3, 3).values).toEqual([0, 0.1, 0.2, 0.3]);
  });

  it('given a point, an empty, an inverted or a non-finite range, when ticked, then the ticks are finite and ordered', () => {
    for (const [lo, hi] of [
      [0, 0],
      [5, 5],
      [-3, -3],
      [10, 2],
      [NaN, NaN],
      [0, Infinity],
      [-Infinity, 4],
    ] as const) {
      const t = niceTicks(lo, hi);
      expect(t.values.length).toBeGreaterThan(1);
      expect(t.values.every(Number.isFinite)).toBe(true);
      expect(t.max).toBeGreaterThan(t.min);
    }
  });
});

describe('scales', () => {
  it('given a domain and a range, when mapped, then it is linear and a zero-width domain maps to the start', () => {
    const s = linearScale([0, 10], [100, 200]);
    expect(s(5)).toBe(150);
    expect(linearScale([3, 3], [100, 200])(3)).toBe(100);
    expect(s(NaN)).toBe(100);
  });

  it('given percentiles, when put on the percentile axis, then each nine is one unit further', () => {
    expect(percentileToAxis(90)).toBeCloseTo(1);
    expect(percentileToAxis(99)).toBeCloseTo(2);
    expect(percentileToAxis(99.99)).toBeCloseTo(4);
    expect(Number.isFinite(percentileToAxis(100))).toBe(true);
    expect(percentileTicks(99.99)).toEqual([50, 90, 99, 99.9, 99.99]);
  });

  it('given tick values, when formatted, then large ones are k or M and decimals follow the step', () => {
    expect(formatTick(20_000, 5_000)).toBe('20k');
    expect(formatTick(2_500_000, 500_000)).toBe('2.5M');
    expect(formatTick(0.25, 0.05)).toBe('0.25');
    expect(formatTick(400, 100)).toBe('400');
    expect(formatTick(NaN)).toBe('–');
  });
});

describe('escaping', () => {
  it('given markup and characters XML cannot hold, when escaped, then nothing of it remains live', () => {
    expect(escapeXml(HOSTILE)).toBe('&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;');
    expect(escapeXml("it's\u0000\u0007 \ud800")).toBe('it&#39;s\ufffd\ufffd \ufffd');
    expect(escapeXml('🙂 fine')).toBe('🙂 fine');
  });
});

describe('charts', () => {
  const charts = {
    line: lineChart({
      title: HOSTILE,
      xLabel: 'seconds',
      yLabel: 'ops/s',
      series: [
        {
          name: 'load',
          points: [
            [0, 100],
            [1, 180],
            [2, 20],
            [3, 200],
          ],
          area: true,
        },
        {
          name: HOSTILE,
          points: [
            [0, 0],
            [3, 10],
          ],
        },
      ],
      bands: [
        { from: 1.2, to: 2.5, label: 'kill n1' },
        { from: 2.8, label: 'partition' },
      ],
    }),
    percentile: lineChart({
      title: 'latency',
      xLabel: 'percentile',
      yLabel: 'ms',
      xScale: 'percentile',
      series: [
        {
          name: 'p',
          points: [
            [50, 1],
            [99, 5],
            [99.99, 30],
          ],
        },
      ],
    }),
    bar: barChart({
      title: 'ratios',
      xLabel: '× raw',
      bars: [
        { label: 'load steady ÷ raw publish', value: 0.4 },
        { label: 'replay ÷ raw read', value: 1.3 },
        { label: 'missing', value: NaN },
      ],
      reference: { value: 1, label: 'raw = 1.0' },
    }),
    timeline: timeline({
      title: 'recovery',
      xLabel: 'seconds',
      rows: [
        { label: 'load', segments: [{ from: 0, to: 19, kind: 'phase' }] },
        {
          label: 'kill-leader',
          segments: [
            { from: 4.1, to: 12, kind: 'fault', label: 'kill n1' },
            { from: 4.1, to: 9.8, kind: 'stall' },
          ],
        },
        { label: 'never healed', segments: [{ from: 15, kind: 'fault' }] },
      ],
    }),
  };

  it.each(Object.entries(charts))(
    'given data, when the %s chart is drawn, then it is well-formed, accessible SVG without NaN',
    (_, svg) => {
      const { root, elements } = wellFormedXml(svg);
      expect(root).toBe('svg');
      expect(svg).toMatch(/^<svg [^>]*role="img" aria-label="[^"]+"/);
      expect(elements[1]).toBe('title');
      expect(svg).toMatch(/viewBox="0 0 \d+ \d+"/);
      expect(svg).not.toMatch(/NaN|Infinity|undefined/);
      expect(svg).not.toContain('<script');
    },
  );

  it('given series and bands, when the line chart is drawn, then each series is a path and each band a labelled rect', () => {
    expect(charts.line.match(/<path d="M/g)).toHaveLength(3); // area + line, line
    expect(charts.line.match(/class="band"/g)).toHaveLength(2);
    expect(charts.line).toContain('>kill n1</text>');
    expect(charts.line).toContain('class="legend"');
  });

  it('given percentiles, when drawn on the percentile axis, then the axis is labelled 50 … 99.99', () => {
    for (const p of ['50', '90', '99', '99.9', '99.99']) expect(charts.percentile).toContain(`>${p}</text>`);
  });

  it('given bars and a reference, when the bar chart is drawn, then finite bars are rects, a missing value shows "–", and the reference line is drawn', () => {
    expect(charts.bar.match(/<rect [^>]*rx="2"/g)).toHaveLength(2);
    expect(charts.bar).toContain('>–</text>');
    expect(charts.bar).toContain('class="reference"');
  });

  it('given an open-ended fault, when the timeline is drawn, then it runs to the end of the axis', () => {
    expect(charts.timeline.match(/class="segment fault"/g)).toHaveLength(2);
    expect(charts.timeline).toContain('class="segment stall"');
  });

  it('given no data at all, when each chart is drawn, then it says so and writes no NaN', () => {
    const empty = [
      lineChart({ title: 'e', xLabel: 'x', yLabel: 'y', series: [] }),
      lineChart({
        title: 'e',
        xLabel: 'x',
        yLabel: 'y',
        series: [
          {
            name: 's',
            points: [
              [NaN, 1],
              [2, Infinity],
            ],
          },
        ],
        xScale: 'percentile',
      }),
      lineChart({ title: 'e', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[1, 0]] }], xDomain: [5, 5] }),
      barChart({ title: 'e', xLabel: 'x', bars: [] }),
      timeline({ title: 'e', xLabel: 'x', rows: [] }),
    ];
    for (const svg of empty) {
      wellFormedXml(svg);
      expect(svg).not.toMatch(/NaN|Infinity|undefined/);
    }
    expect(empty[0]).toContain('>no data</text>');
  });

  it('given standalone, when drawn, then the SVG namespace is declared; inline (the default) it is not', () => {
    expect(lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [], standalone: true })).toContain(
      'xmlns="http://www.w3.org/2000/svg"',
    );
    expect(charts.line).not.toContain('xmlns');
  });
});
