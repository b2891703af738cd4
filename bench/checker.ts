// The Jepsen-style checker every scenario run ends with: the history the drivers recorded (every
// attempted operation, and what each acknowledgement promised) against what the streams hold
// when read back afterwards. Pure: the runner does the reading.
//
//   lost        = acknowledged − read        (a promise broken: the store said yes, the data is gone)
//   unexpected  = read − attempted           (data nobody of this run asked for)
//   duplicates  = read more than once        (one operation applied, or one message stored, twice)
//
// An operation whose outcome is unknown (it timed out, or the run was interrupted) may or may not
// have been applied: whatever of it is read back is neither unexpected nor a loss.

/** One operation a driver attempted. */
export interface Attempt {
  /** The operation's id: a command's id (its events' causationId), a raw message's id. */
  id: string;
  /** ok: acknowledged; failed: refused with an error (not applied); unknown: no answer (may have been applied). */
  outcome: 'ok' | 'failed' | 'unknown';
  /** What the acknowledgement promised is stored: one key per event or message (an event's CID, `stream:seq` for raw). */
  acked: readonly string[];
  /** What kind of operation it was (`person.RenamePerson`, `raw`), to say what a loss hit. */
  label?: string;
}

/** One event or message found in the streams afterwards. */
export interface ReadItem {
  /** The same key an acknowledgement gives (CID, `stream:seq`). */
  key: string;
  /** The id of the operation that caused it (an event's causationId), or undefined when it names none. */
  attemptId: string | undefined;
  /**
   * What makes it one effect of its operation (`<attemptId>#<event type>`): two items with the same
   * origin are the same effect applied twice.
   */
  origin: string;
  /** Where it was found, for the report: `CIM_PERSON#1234 p-17 seq 3`. */
  where: string;
}

export interface CheckerVerdict {
  attempted: number;
  acknowledged: number;
  failed: number;
  unknown: number;
  /** Keys promised by acknowledgements. */
  ackedItems: number;
  /** Items read back. */
  readItems: number;
  lost: number;
  unexpected: number;
  duplicates: number;
  /** Up to `sampleSize` of each kind, so a report can name them. */
  samples: { lost: string[]; unexpected: string[]; duplicates: string[] };
  /** Lost items by the label of the operation that was acknowledged for them. */
  lostBy: Record<string, number>;
  /** No loss, nothing unexpected, no duplicate. */
  ok: boolean;
}

export interface CheckerOptions {
  sampleSize?: number;
}

export function checkHistory(
  attempts: Iterable<Attempt>,
  read: Iterable<ReadItem>,
  options: CheckerOptions = {},
): CheckerVerdict {
  const sampleSize = options.sampleSize ?? 20;
  const samples = { lost: [] as string[], unexpected: [] as string[], duplicates: [] as string[] };
  const note = (list: string[], what: string) => {
    if (list.length < sampleSize) list.push(what);
  };

  const attemptIds = new Set<string>();
  const acked = new Set<string>();
  const labels = new Map<string, string>();
  let attempted = 0;
  let acknowledged = 0;
  let failed = 0;
  let unknown = 0;
  for (const attempt of attempts) {
    attempted++;
    attemptIds.add(attempt.id);
    if (attempt.outcome === 'ok') {
      acknowledged++;
      for (const key of attempt.acked) {
        acked.add(key);
        if (attempt.label) labels.set(key, attempt.label);
      }
    } else if (attempt.outcome === 'failed') failed++;
    else unknown++;
  }

  const items = [...read];
  const readKeys = new Set<string>();
  const origins = new Set<string>();
  let unexpected = 0;
  let duplicates = 0;
  for (const item of items) {
    if (readKeys.has(item.key) || origins.has(item.origin)) {
      duplicates++;
      note(samples.duplicates, `${item.where} (${item.origin})`);
    }
    readKeys.add(item.key);
    origins.add(item.origin);
    if (item.attemptId === undefined || !attemptIds.has(item.attemptId)) {
      unexpected++;
      note(samples.unexpected, `${item.where} (caused by ${item.attemptId ?? 'nothing named'})`);
    }
  }

  let lost = 0;
  const lostBy: Record<string, number> = {};
  for (const key of acked) {
    if (readKeys.has(key)) continue;
    lost++;
    const label = labels.get(key) ?? 'unlabelled';
    lostBy[label] = (lostBy[label] ?? 0) + 1;
    note(samples.lost, `${key}${labels.has(key) ? ` (${label})` : ''}`);
  }

  return {
    attempted,
    acknowledged,
    failed,
    unknown,
    ackedItems: acked.size,
    readItems: items.length,
    lost,
    unexpected,
    duplicates,
    samples,
    lostBy,
    ok: lost === 0 && unexpected === 0 && duplicates === 0,
  };
}
