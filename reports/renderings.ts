// The renderings written beside a report's `.cbor` (`.json`, `.md`, `.html`, and a checkpoint's signed
// note as `.checkpoint`; docs/architecture.md#reports), and
// recomputed by `cim report verify` to check those files byte for byte.
import { render } from './render/index.js';
import type { NamedReport, RenderFormat } from './types.js';

const FILE_FORMATS: Record<string, RenderFormat> = { json: 'json', md: 'md', html: 'html' };

/** Each file rendering of a report, by file extension; with a checkpoint note, `checkpoint` is the note. */
export function renderFiles(named: NamedReport): Record<string, string> {
  const note = named.report.checkpoint?.note;
  return {
    ...Object.fromEntries(
      Object.entries(FILE_FORMATS).map(([extension, format]) => [extension, render(named, format)]),
    ),
    ...(note ? { checkpoint: note } : {}),
  };
}
