// The one rule for text a command carries (names, reasons, steps, actors): no control characters
// (C0 and C1, tab and newline too), no bidi embeddings, overrides or isolates, no lone surrogates.
// Such text could reorder or hide what a name says wherever it is shown, and a lone surrogate has
// no UTF-8 encoding: stored, it would become U+FFFD while the state in memory kept the original.
import { z } from 'zod';
import { unsafeCharacters, type UnsafeCharacter } from '../text.js';

const RULE = 'text may not hold control characters, bidi controls or lone surrogates';

/** What a refusal says: the character as an escape (never the character), what it is, and where. */
export function describeUnsafe(found: UnsafeCharacter, rule = RULE): string {
  return `contains ${found.escape} (${found.kind}) at index ${found.index}; ${rule}`;
}

/** The refinement itself, for a string schema that is no `safeText()`: `z.email().check(safeTextCheck)`. */
export const safeTextCheck = z.check<string>((ctx) => {
  for (const found of unsafeCharacters(ctx.value)) {
    ctx.issues.push({ code: 'custom', message: describeUnsafe(found), input: ctx.value });
    return;
  }
});

/** A string that passes the rule; refine it further as any string (`safeText().trim().min(1).max(200)`). */
export function safeText(): z.ZodString {
  return z.string().check(safeTextCheck);
}
