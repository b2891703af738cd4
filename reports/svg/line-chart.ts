// Lines (optionally filled to the axis) over a linear or a percentile x axis, with shaded vertical
// bands: throughput per second with the faults that hit it, latency by percentile.
import { escapeXml } from './escape.js';
import {
  emptyNote,
  FAULT_COLOUR,
  linearTicks,
  n,
  PALETTE,
  svgDocument,
  textAt,
  xAxis,
  yAxis,
  type ChartText,
  type Plot,
} from './frame.js';
import { linearScale, niceTicks, percentileTicks, percentileToAxis } from './scale.js';

export interface LineSeries {
  name: string;
  /** [x, y] in data units, in x order; points with a non-finite coordinate are left out. */
  points: readonly (readonly [number, number])[];
  /** Fill the area under the line. */
  area?: boolean;
}

export interface Band {
  from: number;
  /** Absent: the band runs to the end of the x axis (a fault never healed). */
  to?: number;
  label: string;
}

export interface LineChartOptions extends ChartText {
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  bands?: readonly Band[];
  /** `percentile`: x values are percentiles (50…99.99) on HdrHistogram's log axis. */
  xScale?: 'linear' | 'percentile';
  /** Fix the x domain (linear scale), e.g. to a scenario's duration. */
  xDomain?: readonly [number, number];
  width?: number;
  height?: number;
}

export function lineChart(options: LineChartOptions): string {
  const plot: Plot = {
    width: options.width ?? 480,
    height: options.height ?? 260,
    left: 56,
    right: 24,
    top: options.series.length > 1 ? 28 : 16,
    bottom: 40,
  };
  const percentile = options.xScale === 'percentile';
  const series = options.series.map((s) => ({
    ...s,
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
  }));
  const xs = series.flatMap((s) => s.points.map(([x]) => x));
  const ys = series.flatMap((s) => s.points.map(([, y]) => y));
  const body: string[] = [];

  let toX: (v: number) => number;
  let xTicks: { at: number; label: string }[];
  if (percentile) {
    const maxP = Math.max(99.99, ...xs);
    const domain: [number, number] = [percentileToAxis(50), percentileToAxis(Math.min(maxP, 99.999))];
    const axis = linearScale(domain, [plot.left, plot.width - plot.right]);
    toX = (p) => axis(percentileToAxis(p));
    xTicks = percentileTicks(Math.min(maxP, 99.999)).map((p) => ({ at: toX(p), label: `${p}` }));
  } else {
    const lo = options.xDomain?.[0] ?? (xs.length ? Math.min(...xs) : 0);
    const hi = options.xDomain?.[1] ?? (xs.length ? Math.max(...xs) : 1);
    const ticks = niceTicks(lo, hi, 6);
    const domain: [number, number] = options.xDomain ? [lo, hi > lo ? hi : lo + 1] : [ticks.min, ticks.max];
    toX = linearScale(domain, [plot.left, plot.width - plot.right]);
    xTicks = linearTicks(
      ticks.values.filter((v) => v >= domain[0] - 1e-9 && v <= domain[1] + 1e-9),
      ticks.step,
      toX,
    );
  }
  const yTicks = niceTicks(Math.min(0, ...ys), ys.length ? Math.max(...ys) : 1, 5);
  const toY = linearScale([yTicks.min, yTicks.max], [plot.height - plot.bottom, plot.top]);

  body.push(...yAxis(plot, linearTicks(yTicks.values, yTicks.step, toY), options.yLabel));
  body.push(...bandsSvg(options.bands ?? [], plot, toX));
  if (ys.length === 0) body.push(emptyNote(plot));
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const colour = PALETTE[i % PALETTE.length]!;
    const path = s.points.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${n(toX(x))} ${n(toY(y))}`).join(' ');
    body.push(`<g class="series series-${i}"><title>${escapeXml(s.name)}</title>`);
    if (s.area) {
      const base = n(toY(Math.max(yTicks.min, 0)));
      const first = s.points[0]!;
      const last = s.points[s.points.length - 1]!;
      body.push(
        `<path d="${path} L${n(toX(last[0]))} ${base} L${n(toX(first[0]))} ${base} Z" fill="${colour}" fill-opacity="0.18" stroke="none"/>`,
      );
    }
    body.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="2" stroke-linejoin="round"/>`);
    if (s.points.length === 1)
      body.push(`<circle cx="${n(toX(s.points[0]![0]))}" cy="${n(toY(s.points[0]![1]))}" r="3" fill="${colour}"/>`);
    body.push('</g>');
  });
  body.push(...xAxis(plot, xTicks, options.xLabel));
  if (series.length > 1)
    body.push(
      ...legend(
        series.map((s) => s.name),
        plot,
      ),
    );
  return svgDocument(options, plot.width, plot.height, body);
}

function bandsSvg(bands: readonly Band[], plot: Plot, toX: (v: number) => number): string[] {
  const out: string[] = [];
  const right = plot.width - plot.right;
  for (const band of bands) {
    const x0 = Math.min(Math.max(toX(band.from), plot.left), right);
    const x1 = Math.min(Math.max(band.to === undefined ? right : toX(band.to), x0 + 2), right);
    out.push(
      `<g class="band"><title>${escapeXml(band.label)}</title>` +
        `<rect x="${n(x0)}" y="${n(plot.top)}" width="${n(Math.max(x1 - x0, 2))}" height="${n(plot.height - plot.top - plot.bottom)}" fill="${FAULT_COLOUR}" fill-opacity="0.15" stroke="${FAULT_COLOUR}" stroke-opacity="0.6" stroke-dasharray="3 3"/>` +
        textAt(x0 + 3, plot.top + 12, band.label, `fill="${FAULT_COLOUR}" font-size="12"`) +
        '</g>',
    );
  }
  return out;
}

function legend(names: readonly string[], plot: Plot): string[] {
  const out = ['<g class="legend">'];
  let x = plot.left;
  names.forEach((name, i) => {
    const colour = PALETTE[i % PALETTE.length]!;
    out.push(`<rect x="${n(x)}" y="8" width="10" height="10" fill="${colour}"/>`, textAt(x + 14, 17, name));
    x += 24 + Math.min(name.length, 24) * 6.5;
  });
  out.push('</g>');
  return out;
}
