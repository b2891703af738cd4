// Text into XML (SVG, HTML, JUnit): the five markup characters as entities, and the characters XML
// 1.0 cannot carry at all (C0 controls other than tab and line breaks, lone surrogates, U+FFFE/F)
// replaced, so hostile or damaged text in a report can neither inject markup nor break a parser.
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/* eslint-disable no-control-regex -- the pattern names the control characters it removes */
const NOT_XML =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/* eslint-enable no-control-regex */

export function escapeXml(text: string): string {
  return text.replace(NOT_XML, '\uFFFD').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}
