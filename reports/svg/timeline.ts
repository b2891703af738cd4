// Rows of segments on one time axis: a scenario's phases, the faults it injected (fired → healed)
// and how long the service took to recover or stalled after each.
import { escapeXml } from './escape.js';
import {
  emptyNote,
  FAULT_COLOUR,
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
import { linearScale, niceTicks } from './scale.js';

export type SegmentKind = 'phase' | 'fault' | 'recovery' | 'stall';

export interface Segment {
  from: number;
  /** Absent: open-ended, drawn to the end of the axis. */
  to?: number;
  kind: SegmentKind;
  /** Written on or beside the segment and in its tooltip. */
  label?: string;
}

export interface TimelineRow {
  label: string;
  segments: readonly Segment[];
}

export interface TimelineOptions extends ChartText {
  xLabel: string;
  rows: readonly TimelineRow[];
  /** The time axis; default: what the segments cover. */
  domain?: readonly [number, number];
  width?: number;
}

const ROW = 26;
const MAX_LABEL_CHARS = 24;
const FILL: Record<SegmentKind, { colour: string; opacity: number }> = {
  phase: { colour: PALETTE[0], opacity: 0.35 },
  fault: { colour: FAULT_COLOUR, opacity: 0.75 },
  recovery: { colour: PALETTE[2], opacity: 0.85 },
  stall: { colour: PALETTE[1], opacity: 0.85 },
};

export function timeline(options: TimelineOptions): string {
  const labels = options.rows.map((r) => fitLabel(r.label, MAX_LABEL_CHARS));
  const left = Math.min(16 + Math.max(4, ...labels.map((l) => l.length)) * 6.5, 180);
  const plot: Plot = {
    width: options.width ?? 480,
    height: 16 + Math.max(1, options.rows.length) * ROW + 44,
    left,
    right: 24,
    top: 16,
    bottom: 40,
  };
  const ends = options.rows.flatMap((r) => r.segments.flatMap((s) => [s.from, s.to ?? s.from])).filter(Number.isFinite);
  const lo = options.domain?.[0] ?? Math.min(0, ...ends);
  const hi = options.domain?.[1] ?? (ends.length ? Math.max(...ends) : 1);
  const ticks = niceTicks(lo, hi, 6);
  const domain: [number, number] = options.domain ? [lo, hi > lo ? hi : lo + 1] : [ticks.min, ticks.max];
  const toX = linearScale(domain, [plot.left, plot.width - plot.right]);
  const right = plot.width - plot.right;
  const clampX = (x: number) => Math.min(Math.max(x, plot.left), right);
  const body: string[] = [];

  body.push(`<g class="grid" stroke="currentColor" stroke-opacity="0.12">`);
  for (const v of ticks.values)
    if (v >= domain[0] && v <= domain[1])
      body.push(`<line x1="${n(toX(v))}" y1="${n(plot.top)}" x2="${n(toX(v))}" y2="${n(plot.height - plot.bottom)}"/>`);
  body.push('</g>');
  if (options.rows.length === 0) body.push(emptyNote(plot));
  options.rows.forEach((row, i) => {
    const y = plot.top + i * ROW;
    body.push(`<g class="row">`, textAt(plot.left - 6, y + ROW / 2 + 4, labels[i]!, 'text-anchor="end"'));
    for (const seg of row.segments) {
      if (!Number.isFinite(seg.from)) continue;
      const x0 = clampX(toX(seg.from));
      const x1 = clampX(seg.to === undefined || !Number.isFinite(seg.to) ? right : toX(seg.to));
      const width = Math.max(x1 - x0, 2);
      const { colour, opacity } = FILL[seg.kind];
      const tip = seg.label ? `${row.label}: ${seg.label}` : row.label;
      body.push(
        `<g class="segment ${seg.kind}"><title>${escapeXml(tip)}</title>` +
          `<rect x="${n(x0)}" y="${n(y + 4)}" width="${n(width)}" height="${n(ROW - 8)}" fill="${colour}" fill-opacity="${opacity}" rx="2"/>` +
          (seg.label
            ? textAt(
                x0 + width + 4 > right - 60 ? x0 + 3 : x0 + width + 4,
                y + ROW / 2 + 4,
                seg.label,
                'font-size="12"',
              )
            : '') +
          '</g>',
      );
    }
    body.push('</g>');
  });
  body.push(
    ...xAxis(
      plot,
      linearTicks(
        ticks.values.filter((v) => v >= domain[0] - 1e-9 && v <= domain[1] + 1e-9),
        ticks.step,
        toX,
      ),
      options.xLabel,
    ),
  );
  return svgDocument(options, plot.width, plot.height, body);
}
