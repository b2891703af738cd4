// How figures are written in every rendering, the terminal's included: grouped integers, as many
// decimals as a comparison needs, ratios as "0.65×", "–" for whatever the results do not hold,
// and plain-text tables with aligned columns.
import type { CID } from 'multiformats/cid';

export const MISSING = '–';

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

type Figure = number | null | undefined;

const finite = (n: Figure): n is number => typeof n === 'number' && Number.isFinite(n);

export function count(n: Figure): string {
  return finite(n) ? grouped.format(n) : MISSING;
}

/** Two decimals below 10, one below 100, none above. */
export function decimal(n: Figure): string {
  if (!finite(n)) return MISSING;
  const abs = Math.abs(n);
  return abs < 10 ? n.toFixed(2) : abs < 100 ? n.toFixed(1) : grouped.format(n);
}

export function ratio(n: Figure): string {
  return finite(n) && n > 0 ? `${n.toFixed(2)}×` : MISSING;
}

export function ms(n: Figure): string {
  return finite(n) ? `${decimal(n)} ms` : MISSING;
}

export function seconds(msValue: Figure): string {
  return finite(msValue) ? `${(msValue / 1_000).toFixed(1)} s` : MISSING;
}

/** A relative change as a signed percentage: "+4.2 %", "−12 %". */
export function percent(relative: Figure): string {
  if (!finite(relative)) return MISSING;
  const p = relative * 100;
  const text = Math.abs(p) < 100 ? Math.abs(p).toFixed(1) : grouped.format(Math.abs(p));
  return `${p > 0 ? '+' : p < 0 ? '−' : '±'}${text} %`;
}

/** A share as an unsigned percentage: 0.95 → "95 %". */
export function share(fraction: Figure): string {
  return finite(fraction) ? `${Number((fraction * 100).toFixed(1))} %` : MISSING;
}

export function pValue(p: Figure): string {
  if (!finite(p)) return MISSING;
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

export function cidText(cid: CID): string {
  return cid.toString();
}

export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

type Align = 'left' | 'right';

/** Columns padded to their widest cell, two spaces apart; the first column left, others as given (right by default). */
export function alignedTable(rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) =>
          (align[i] ?? (i === 0 ? 'left' : 'right')) === 'left' ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
