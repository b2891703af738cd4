// The Markdown a gate appends to a CI step summary: the verdict first, then the regressions and
// what had too little data, then every comparison and the candidate's whole report folded away
// (`<details>`), so the answer is the first thing a reader sees, not line 320.
import { gateVerdict } from '../gate-verdict.js';
import type { NamedReport } from '../types.js';
import { cidText, share } from './format.js';
import { code, mdText, renderMarkdown, table } from './markdown.js';
import { GATE_HEADERS, gateRow, orderedComparisons } from './summary.js';

const HEADLINE = {
  regressed: '❌ regressed',
  'insufficient-data': '⚠️ insufficient data',
  passed: '✅ passed',
} as const;

/** `gated`: the candidate report with the gate's comparison as its `baseline` section. */
export function renderGateSummary(gated: NamedReport): string {
  const b = gated.report.baseline;
  if (!b) return renderMarkdown(gated);
  const verdict = gateVerdict(b);
  const threshold = b.comparisons[0]?.threshold;
  const lines = [
    `## Performance gate: ${HEADLINE[verdict.verdict]}`,
    '',
    mdText(verdict.text) + '.',
    '',
    `Candidate ${code(gated.cid.toString())} against baseline ${code(cidText(b.cid))}` +
      (threshold !== undefined ? `; changes under ${share(threshold)} do not count` : '') +
      '; p-values corrected for every comparison (Holm).',
  ];
  if (verdict.regressions.length > 0)
    lines.push('', '### Regressions', '', ...table(GATE_HEADERS, verdict.regressions.map(gateRow)));
  if (verdict.missing.length > 0) {
    lines.push('', `### Without enough data${b.allowMissing ? ' (allowed by --allow-missing)' : ''}`, '');
    for (const c of verdict.missing)
      lines.push(
        `- ${mdText(`${c.scenario} ${c.metric}`)}: ${c.baseline.samples} repetition(s) in the baseline, ${c.candidate.samples} in the candidate`,
      );
    if (!b.allowMissing)
      lines.push(
        '',
        'Run both with `cim bench --repeat N` (N ≥ 3, 5 recommended) to compare them, or pass `--allow-missing`.',
      );
  }
  lines.push(
    '',
    '<details><summary>Every comparison</summary>',
    '',
    ...table(GATE_HEADERS, orderedComparisons(b.comparisons).map(gateRow)),
    '',
    '</details>',
    '',
    '<details><summary>The candidate report</summary>',
    '',
    renderMarkdown(gated).replace(/^#/gm, '###'),
    '',
    '</details>',
    '',
  );
  return lines.join('\n');
}
