// Text from outside (files, messages, the cluster) on its way to a terminal: control characters,
// bidi overrides and lone surrogates are shown as escapes, so no input can move the cursor,
// recolour the screen or reorder what a line says.

// C0 and C1 controls but tab and newline, DEL, the bidi embeddings, overrides and isolates.
/* eslint-disable no-control-regex -- the pattern names the control characters it removes */
const UNPRINTABLE =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/* eslint-enable no-control-regex */

/** `text` with every unprintable character as `\uXXXX`; tabs and newlines are kept. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
