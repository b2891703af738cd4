// Text from outside (files, messages, the cluster): on its way to a terminal, control characters,
// bidi overrides and lone surrogates are shown as escapes, so no input can move the cursor,
// recolour the screen or reorder what a line says; in what the appliance stores, the same
// characters (and tab and newline) are refused, named by the same escapes.

// C0 and C1 controls but tab and newline, DEL, the bidi embeddings, overrides and isolates.
/* eslint-disable no-control-regex -- the pattern names the control characters it removes */
const UNPRINTABLE =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/* eslint-enable no-control-regex */

/** What stored text may not hold: the unprintable characters, and tab and newline (stored text is one line). */
const UNSAFE_SOURCE = `[\\t\\n]|${UNPRINTABLE.source}`;
const UNSAFE = new RegExp(UNSAFE_SOURCE);
const EVERY_UNSAFE = new RegExp(UNSAFE_SOURCE, 'g');

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** `text` with every unprintable character as `\uXXXX`; tabs and newlines are kept. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escape);
}

/** `text` with every character stored text may not hold as `\uXXXX`, tab and newline too: one line, safe to show. */
export function escapeUnsafe(text: string): string {
  return text.replace(EVERY_UNSAFE, escape);
}

export interface UnsafeCharacter {
  /** Where it is, in UTF-16 code units. */
  index: number;
  /** The character as `\uXXXX`, never the character itself. */
  escape: string;
  kind: 'a control character' | 'a bidi control' | 'a lone surrogate';
}

/** Each character `text` may not hold as stored text, in order; none for most text, which is checked in one step. */
export function* unsafeCharacters(text: string): Generator<UnsafeCharacter> {
  if (!UNSAFE.test(text)) return;
  for (const match of text.matchAll(EVERY_UNSAFE)) {
    const code = match[0].charCodeAt(0);
    const kind =
      code >= 0xd800 && code <= 0xdfff
        ? 'a lone surrogate'
        : code >= 0x202a && code <= 0x2069
          ? 'a bidi control'
          : 'a control character';
    yield { index: match.index, escape: escape(match[0]), kind };
  }
}
