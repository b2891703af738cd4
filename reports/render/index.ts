// The renderings of a report written beside its canonical CBOR (docs/architecture.md#reports): one entry point
// and the file extension of each format.
import type { NamedReport, RenderFormat } from '../types.js';
import { renderBmf } from './bmf.js';
import { renderHtml } from './html.js';
import { renderJson } from './json.js';
import { renderJUnit } from './junit.js';
import { renderMarkdown } from './markdown.js';

export const RENDER_FORMATS: readonly RenderFormat[] = ['json', 'md', 'html', 'junit', 'bmf'];

/** The file extension (with its dot) of each rendering: `<cid>.json`, `<cid>.md`, `<cid>.html`, `<cid>.junit.xml`. */
export const RENDER_EXTENSIONS: Readonly<Record<RenderFormat, string>> = {
  json: '.json',
  md: '.md',
  html: '.html',
  junit: '.junit.xml',
  bmf: '.bmf.json',
};

const RENDERERS: Readonly<Record<RenderFormat, (named: NamedReport) => string>> = {
  json: renderJson,
  md: renderMarkdown,
  html: renderHtml,
  junit: renderJUnit,
  bmf: renderBmf,
};

export function render(named: NamedReport, format: RenderFormat): string {
  return RENDERERS[format](named);
}

export function renderExtension(format: RenderFormat): string {
  return RENDER_EXTENSIONS[format];
}

export { renderJson, toJsonValue } from './json.js';
export { renderMarkdown } from './markdown.js';
export { renderHtml } from './html.js';
export { renderJUnit } from './junit.js';
export {
  readPerformanceResults,
  type PerformanceResultsView,
  type ScenarioView,
  type PhaseView,
} from './performance-view.js';

export {
  driverComparisonLine,
  driverComparisons,
  matrixTable,
  RECOVERY_DEFINITION,
  recoveryText,
  SUMMARY_HEADERS,
  summaryRow,
  viewVerdict,
  type RecoveryFigures,
  type ComparableLoad,
  type DriverComparison,
} from './summary.js';
export {
  DURABILITY_HEADERS,
  durabilityCells,
  durabilityKind,
  durabilityRows,
  durabilityTable,
  type DurabilityKind,
  type DurabilityRow,
  type DurabilityTable,
} from './durability.js';
export { alignedTable, count, decimal, ms, percent, ratio, seconds, share } from './format.js';

export { renderGateSummary } from './gate-summary.js';
