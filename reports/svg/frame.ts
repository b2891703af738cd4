// What every chart shares: the <svg> element sized by its viewBox (it scales to its container),
// an accessible name (role="img", aria-label and <title>), the plot area, axes with ticks and
// labels, and the palette. Colours are presentation attributes that read on light and dark
// backgrounds alike; text uses currentColor, so the page's colour scheme carries over.
import { escapeXml } from './escape.js';
import { formatTick } from './scale.js';

export const PALETTE = ['#3b82f6', '#f59e0b', '#10b981', '#a855f7', '#ec4899', '#14b8a6'] as const;
export const FAULT_COLOUR = '#ef4444';

export interface Plot {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export interface ChartText {
  /** The chart's accessible name and tooltip. */
  title: string;
  /** A longer description for assistive technology. */
  description?: string;
  /** Declare the SVG namespace, for a file of its own; inline in HTML5 it is implied (and the page stays free of URLs). */
  standalone?: boolean;
}

/** A number for an attribute: two decimals at most, never NaN. */
export function n(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 100) / 100) : '0';
}

export function svgDocument(text: ChartText, width: number, height: number, body: string[]): string {
  const label = escapeXml(text.title);
  return [
    `<svg${text.standalone ? ' xmlns="http://www.w3.org/2000/svg"' : ''} class="chart" viewBox="0 0 ${n(width)} ${n(height)}" role="img" aria-label="${label}" ` +
      `font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="12" fill="currentColor">`,
    `<title>${label}</title>`,
    ...(text.description ? [`<desc>${escapeXml(text.description)}</desc>`] : []),
    ...body,
    '</svg>',
  ].join('\n');
}

export function textAt(x: number, y: number, content: string, attributes = ''): string {
  return `<text x="${n(x)}" y="${n(y)}"${attributes ? ` ${attributes}` : ''}>${escapeXml(content)}</text>`;
}

/** A horizontal axis at the bottom of the plot: tick marks, labels and the axis title. */
export function xAxis(plot: Plot, ticks: readonly { at: number; label: string }[], title: string): string[] {
  const y = plot.height - plot.bottom;
  const out = [
    `<g class="axis x-axis" stroke="currentColor" stroke-opacity="0.5">`,
    `<line x1="${n(plot.left)}" y1="${n(y)}" x2="${n(plot.width - plot.right)}" y2="${n(y)}"/>`,
  ];
  for (const t of ticks) out.push(`<line x1="${n(t.at)}" y1="${n(y)}" x2="${n(t.at)}" y2="${n(y + 4)}"/>`);
  out.push('</g>', `<g class="tick-labels" text-anchor="middle">`);
  for (const t of ticks) out.push(textAt(t.at, y + 16, t.label));
  out.push(
    '</g>',
    textAt(
      plot.left + (plot.width - plot.left - plot.right) / 2,
      plot.height - 4,
      title,
      'text-anchor="middle" class="axis-title"',
    ),
  );
  return out;
}

/** A vertical axis at the left of the plot with horizontal grid lines across it. */
export function yAxis(plot: Plot, ticks: readonly { at: number; label: string }[], title: string): string[] {
  const x = plot.left;
  const out = [`<g class="grid" stroke="currentColor" stroke-opacity="0.12">`];
  for (const t of ticks)
    out.push(`<line x1="${n(x)}" y1="${n(t.at)}" x2="${n(plot.width - plot.right)}" y2="${n(t.at)}"/>`);
  out.push(
    '</g>',
    `<g class="axis y-axis" stroke="currentColor" stroke-opacity="0.5">`,
    `<line x1="${n(x)}" y1="${n(plot.top)}" x2="${n(x)}" y2="${n(plot.height - plot.bottom)}"/>`,
    '</g>',
  );
  out.push(`<g class="tick-labels" text-anchor="end">`);
  for (const t of ticks) out.push(textAt(x - 6, t.at + 4, t.label));
  out.push('</g>');
  const midY = plot.top + (plot.height - plot.top - plot.bottom) / 2;
  out.push(textAt(12, midY, title, `text-anchor="middle" transform="rotate(-90 12 ${n(midY)})" class="axis-title"`));
  return out;
}

export function linearTicks(
  values: readonly number[],
  step: number,
  at: (v: number) => number,
): { at: number; label: string }[] {
  return values.map((v) => ({ at: at(v), label: formatTick(v, step) }));
}

/** Centred text in the plot area, for charts with nothing to draw. */
export function emptyNote(plot: Plot, note = 'no data'): string {
  return textAt(
    plot.left + (plot.width - plot.left - plot.right) / 2,
    plot.top + (plot.height - plot.top - plot.bottom) / 2,
    note,
    'text-anchor="middle" opacity="0.7"',
  );
}

/** Labels wider than the room get an ellipsis; the width is estimated (no DOM to measure text in). */
export function fitLabel(label: string, maxChars: number): string {
  return label.length <= maxChars ? label : `${label.slice(0, Math.max(1, maxChars - 1))}…`;
}
