// Horizontal bars with an optional reference line: each headline figure as a ratio to the raw
// JetStream baseline, with the line at 1.0 marking "as fast as raw".
import { escapeXml } from './escape.js';
import {
  emptyNote,
  fitLabel,
  linearTicks,
  n,
  PALETTE,
  svgDocument,
  textAt,
  xAxis,
  type ChartText,
  type Plot,
} from './frame.js';
import { formatTick, linearScale, niceTicks } from './scale.js';

export interface Bar {
  label: string;
  /** Non-finite values draw no bar and show "–". */
  value: number;
  /** Which palette colour (default: the bar's group is its index). */
  group?: number;
}

export interface BarChartOptions extends ChartText {
  xLabel: string;
  bars: readonly Bar[];
  reference?: { value: number; label: string };
  /** How a value is written at the end of its bar. */
  format?: (v: number) => string;
  width?: number;
}

const ROW = 28;
const MAX_LABEL_CHARS = 30;

export function barChart(options: BarChartOptions): string {
  const labels = options.bars.map((b) => fitLabel(b.label, MAX_LABEL_CHARS));
  const left = Math.min(16 + Math.max(4, ...labels.map((l) => l.length)) * 6.5, 200);
  const plot: Plot = {
    width: options.width ?? 480,
    height: 16 + Math.max(1, options.bars.length) * ROW + 44,
    left,
    right: 56,
    top: 16,
    bottom: 40,
  };
  const values = options.bars.map((b) => b.value).filter(Number.isFinite);
  const ticks = niceTicks(
    Math.min(0, ...values),
    Math.max(options.reference?.value ?? 0, ...values, values.length ? 0 : 1),
    5,
  );
  const toX = linearScale([ticks.min, ticks.max], [plot.left, plot.width - plot.right]);
  const format = options.format ?? ((v: number) => formatTick(v, v));
  const body: string[] = [];

  body.push(`<g class="grid" stroke="currentColor" stroke-opacity="0.12">`);
  for (const v of ticks.values)
    body.push(`<line x1="${n(toX(v))}" y1="${n(plot.top)}" x2="${n(toX(v))}" y2="${n(plot.height - plot.bottom)}"/>`);
  body.push('</g>');
  if (options.bars.length === 0) body.push(emptyNote(plot));
  options.bars.forEach((bar, i) => {
    const y = plot.top + i * ROW;
    const finite = Number.isFinite(bar.value);
    const x0 = toX(Math.max(0, ticks.min));
    const x1 = finite ? toX(bar.value) : x0;
    const colour = PALETTE[(bar.group ?? i) % PALETTE.length]!;
    body.push(`<g class="bar"><title>${escapeXml(`${bar.label}: ${finite ? format(bar.value) : '–'}`)}</title>`);
    body.push(textAt(plot.left - 6, y + ROW / 2 + 4, labels[i]!, 'text-anchor="end"'));
    if (finite)
      body.push(
        `<rect x="${n(Math.min(x0, x1))}" y="${n(y + 5)}" width="${n(Math.abs(x1 - x0))}" height="${n(ROW - 10)}" fill="${colour}" rx="2"/>`,
      );
    body.push(textAt(Math.max(x0, x1) + 4, y + ROW / 2 + 4, finite ? format(bar.value) : '–'));
    body.push('</g>');
  });
  if (options.reference && Number.isFinite(options.reference.value)) {
    const x = toX(options.reference.value);
    body.push(
      `<g class="reference"><title>${escapeXml(options.reference.label)}</title>` +
        `<line x1="${n(x)}" y1="${n(plot.top - 4)}" x2="${n(x)}" y2="${n(plot.height - plot.bottom)}" stroke="currentColor" stroke-width="1.5" stroke-dasharray="4 3"/>` +
        textAt(x + 3, plot.top + 6, options.reference.label, 'font-size="12"') +
        '</g>',
    );
  }
  body.push(...xAxis(plot, linearTicks(ticks.values, ticks.step, toX), options.xLabel));
  return svgDocument(options, plot.width, plot.height, body);
}
