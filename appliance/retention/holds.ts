// Legal holds (docs/architecture.md#retention-and-legal-holds): a hold on one aggregate
// (`<domain>/<aggregateId>`) or on a data subject (its id is the aggregate id of the events that
// hold its personal data, in every domain). Retention never removes a held event, and erasure
// refuses a held subject (GDPR Art. 17(3)(e)). Kept in KV bucket `cim_holds`, one key a hold:
// `aggregate.<domain>.<aggregateId>` or `subject.<subjectId>`; the value says why, who and when.
import type { KV, NatsConnection } from 'nats';
import { z } from 'zod';
import { CimError, firstIssue } from '../errors.js';
import { subjectToken } from '../eventstore/envelope.js';
import { assertAggregateId, assertDomain, HOLDS_BUCKET } from '../eventstore/names.js';
import { isNotFound } from '../eventstore/retry.js';

export type HoldTarget =
  { kind: 'aggregate'; domain: string; aggregateId: string } | { kind: 'subject'; subjectId: string };

export interface Hold {
  target: HoldTarget;
  /** Free text (a case number, a court order): kept in the bucket only, never in the audit log. */
  reason: string;
  /** Who placed it. */
  placedBy: string;
  /** When, RFC 3339. */
  at: string;
}

const HoldSchema = z
  .object({
    target: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('aggregate'), domain: z.string(), aggregateId: z.string() }).strict(),
      z.object({ kind: z.literal('subject'), subjectId: z.string() }).strict(),
    ]),
    reason: z.string(),
    placedBy: z.string(),
    at: z.string(),
  })
  .strict();

/** `person/P1` or `subject/P1`: how a hold is named on the command line and in the audit log (ids only). */
export function holdName(target: HoldTarget): string {
  return target.kind === 'aggregate' ? `${target.domain}/${target.aggregateId}` : `subject/${target.subjectId}`;
}

function holdKey(target: HoldTarget): string {
  return target.kind === 'aggregate'
    ? `aggregate.${target.domain}.${target.aggregateId}`
    : `subject.${target.subjectId}`;
}

/** `DOMAIN/ID` → an aggregate target; CIM-INVALID-INPUT says what is wrong. */
export function aggregateTarget(text: string): HoldTarget {
  const slash = text.indexOf('/');
  if (slash < 0)
    throw new CimError('CIM-INVALID-INPUT', `aggregate "${text}": expected DOMAIN/AGGREGATE_ID, e.g. person/P1`);
  const domain = text.slice(0, slash);
  const aggregateId = text.slice(slash + 1);
  assertDomain(domain);
  assertAggregateId(aggregateId);
  return { kind: 'aggregate', domain, aggregateId };
}

/** A data subject's id → a subject target. */
export function subjectTarget(subjectId: string): HoldTarget {
  if (!subjectToken.test(subjectId))
    throw new CimError(
      'CIM-INVALID-INPUT',
      `subject "${subjectId}": a subject id is an aggregate id: letters, digits, "_", "-" or "="`,
    );
  return { kind: 'subject', subjectId };
}

/** The holds in force at one moment, for deciding many events quickly. */
export class HoldSet {
  private readonly aggregates = new Map<string, Hold>();
  private readonly subjects = new Map<string, Hold>();

  constructor(readonly holds: readonly Hold[]) {
    for (const hold of holds) {
      if (hold.target.kind === 'aggregate')
        this.aggregates.set(`${hold.target.domain}/${hold.target.aggregateId}`, hold);
      else this.subjects.set(hold.target.subjectId, hold);
    }
  }

  /** The hold covering an aggregate's events: on the aggregate itself, or on the subject of that id. */
  covering(domain: string, aggregateId: string): Hold | undefined {
    return this.aggregates.get(`${domain}/${aggregateId}`) ?? this.subjects.get(aggregateId);
  }

  /**
   * The hold that forbids erasing a subject: one on the subject, or on an aggregate of that id in
   * any domain (its events must stay readable, and erasure would make them unreadable).
   */
  erasure(subjectId: string): Hold | undefined {
    return (
      this.subjects.get(subjectId) ??
      [...this.aggregates.values()].find((h) => h.target.kind === 'aggregate' && h.target.aggregateId === subjectId)
    );
  }
}

export class HoldStore {
  private constructor(private readonly kv: KV) {}

  /**
   * The hold bucket. With `create` (an operator connection), a bucket missing on a cluster
   * provisioned by an older version is made; otherwise a missing bucket means no holds at all.
   */
  static async open(
    nc: NatsConnection,
    options: { create?: { replicas: number } } = {},
  ): Promise<HoldStore | undefined> {
    const js = nc.jetstream();
    try {
      // Binding alone asks the server nothing: the status read is what finds a bucket missing (a
      // cluster provisioned before holds existed), before a key listing fails on it.
      const kv = await js.views.kv(HOLDS_BUCKET, { bindOnly: true });
      await kv.status();
      return new HoldStore(kv);
    } catch (error) {
      if (!isNotFound(error) && !/not found|does not exist/i.test((error as Error).message)) throw error;
    }
    if (!options.create) return undefined;
    return new HoldStore(await js.views.kv(HOLDS_BUCKET, { replicas: options.create.replicas, history: 1 }));
  }

  /** Places a hold (replacing one on the same target: its reason and placer are the new ones). */
  async add(hold: Hold): Promise<void> {
    await this.kv.put(holdKey(hold.target), JSON.stringify(hold));
  }

  /** Lifts a hold; false when there was none. */
  async remove(target: HoldTarget): Promise<boolean> {
    if (!(await this.get(target))) return false;
    await this.kv.delete(holdKey(target));
    return true;
  }

  async get(target: HoldTarget): Promise<Hold | undefined> {
    const entry = await this.kv.get(holdKey(target));
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) return undefined;
    return decodeHold(entry.value, entry.key);
  }

  /** Every hold in force, ordered by name. */
  async list(): Promise<Hold[]> {
    const holds: Hold[] = [];
    const keys: string[] = [];
    for await (const key of await this.kv.keys()) keys.push(key);
    for (const key of keys.sort()) {
      const entry = await this.kv.get(key);
      if (entry && entry.operation === 'PUT' && entry.value.length > 0) holds.push(decodeHold(entry.value, key));
    }
    return holds;
  }

  async holdSet(): Promise<HoldSet> {
    return new HoldSet(await this.list());
  }
}

function decodeHold(value: Uint8Array, key: string): Hold {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(value));
  } catch {
    parsed = undefined;
  }
  const result = HoldSchema.safeParse(parsed);
  if (!result.success)
    throw new CimError('CIM-INVALID-EVENT', `${HOLDS_BUCKET} key ${key} is not a hold: ${firstIssue(result.error)}`);
  return result.data;
}

/** The holds of a connection's cluster (none when the bucket does not exist). */
export async function readHolds(nc: NatsConnection): Promise<HoldSet> {
  const store = await HoldStore.open(nc);
  return store ? store.holdSet() : new HoldSet([]);
}

/** The erasure check `eraseSubject` asks (Eraser.legalHold): the name of the hold on a subject, read anew each time. */
export function erasureHoldOf(nc: NatsConnection): (subjectId: string) => Promise<string | undefined> {
  return async (subjectId) => {
    const hold = (await readHolds(nc)).erasure(subjectId);
    return hold && holdName(hold.target);
  };
}
