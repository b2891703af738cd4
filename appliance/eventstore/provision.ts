// Creates the event store's streams and buckets, idempotently: running it twice changes nothing,
// and an existing stream whose config differs in a way that matters is reported, never changed —
// except the seal stream's subjects, which provision narrows from `<prefix>.seals.>` (what older
// versions created) to `<prefix>.seals.*`: the stored seals keep their subjects and stay readable;
// and a domain stream's `allow_atomic`, which it turns on where the server has atomic batches.
import {
  DiscardPolicy,
  nanos,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type NatsConnection,
  type StreamConfig,
} from 'nats';
import { CimError } from '../errors.js';
import { hasFeature } from '../cluster/server-features.js';
import { createStream, DEFAULT_RETRY, isNotFound, waitForStreamLeader } from './retry.js';
import {
  assertDomain,
  AUDIT_STREAM,
  COMMAND_BUCKET,
  domainStream,
  HOLDS_BUCKET,
  RETENTION_STREAM,
  SEALS_STREAM,
  SNAPSHOT_BUCKET,
  Subjects,
} from './names.js';

export interface ProvisionOptions {
  domains: string[];
  replicas: number;
  /** How long JetStream remembers Nats-Msg-Id values to drop retried publishes. */
  duplicateWindowMs: number;
  subjects?: Subjects;
  /**
   * How long a command id is remembered: a retry within this window gets the original reply and
   * appends nothing (the TTL of bucket `cim_commands`; default 24 hours).
   */
  commandWindowMs?: number;
  /**
   * Let the domain streams take atomic batches (`allow_atomic`), which the event store's group
   * commit uses. Default: when the connected server is nats-server ≥ 2.12.
   */
  atomicBatches?: boolean;
}

/** The default idempotency window of command ids. */
export const COMMAND_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface ProvisionReport {
  created: string[];
  /** Streams whose config provision changed: only the seal stream's old subjects, narrowed. */
  updated: string[];
  unchanged: string[];
}

type Wanted = Pick<
  StreamConfig,
  'name' | 'subjects' | 'num_replicas' | 'storage' | 'retention' | 'duplicate_window' | 'discard'
> &
  Partial<
    Pick<StreamConfig, 'deny_delete' | 'deny_purge' | 'allow_rollup_hdrs' | 'max_msgs_per_subject' | 'allow_direct'>
  > & {
    /** nats-server ≥ 2.12; nats.js 2.x does not type it. */
    allow_atomic?: boolean;
  };

function wantedStreams(options: ProvisionOptions, atomic: boolean): Wanted[] {
  const subjects = options.subjects ?? new Subjects();
  const common = {
    num_replicas: options.replicas,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(options.duplicateWindowMs),
  };
  return [
    ...options.domains.map((domain) => ({
      ...common,
      name: domainStream(domain),
      subjects: [subjects.domainEvents(domain)],
      ...(atomic ? { allow_atomic: true } : {}),
    })),
    // Seals are evidence: nobody may delete or purge them.
    { ...common, name: SEALS_STREAM, subjects: [subjects.seals()], deny_delete: true, deny_purge: true },
    // So is the audit log: who did what, kept for good.
    { ...common, name: AUDIT_STREAM, subjects: [subjects.audits()], deny_delete: true, deny_purge: true },
    // And retention's removal manifests: what was removed, under which seal.
    { ...common, name: RETENTION_STREAM, subjects: [subjects.retentions()], deny_delete: true, deny_purge: true },
  ];
}

/** The fields whose difference would change the store's guarantees. */
function differences(wanted: Wanted, actual: StreamConfig): string[] {
  const out: string[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same([...(wanted.subjects ?? [])].sort(), [...(actual.subjects ?? [])].sort())) {
    out.push(`subjects: want ${JSON.stringify(wanted.subjects)}, has ${JSON.stringify(actual.subjects)}`);
  }
  for (const key of [
    'num_replicas',
    'storage',
    'retention',
    'duplicate_window',
    'deny_delete',
    'deny_purge',
  ] as const) {
    const want = wanted[key];
    if (want !== undefined && !same(want, actual[key]))
      out.push(`${key}: want ${JSON.stringify(want)}, has ${JSON.stringify(actual[key])}`);
  }
  return out;
}

async function streamConfig(jsm: JetStreamManager, name: string): Promise<StreamConfig | undefined> {
  try {
    return (await jsm.streams.info(name)).config;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export async function provision(nc: NatsConnection, options: ProvisionOptions): Promise<ProvisionReport> {
  options.domains.forEach(assertDomain);
  const jsm = await nc.jetstreamManager();
  const report: ProvisionReport = { created: [], updated: [], unchanged: [] };
  const incompatible: string[] = [];
  const missing: Wanted[] = [];
  const narrowed: StreamConfig[] = [];
  const legacySeals = (options.subjects ?? new Subjects()).legacySeals();
  const atomic = options.atomicBatches ?? hasFeature(nc.info?.version ?? '0.0.0', 'atomicBatch');
  const toAllowAtomic: StreamConfig[] = [];

  // Check everything first, so an incompatible stream leaves nothing half-provisioned.
  for (const wanted of wantedStreams(options, atomic)) {
    const actual = await streamConfig(jsm, wanted.name);
    if (!actual) {
      missing.push(wanted);
      continue;
    }
    const diff = differences(wanted, actual);
    const oldSeals =
      wanted.name === SEALS_STREAM && actual.subjects?.length === 1 && actual.subjects[0] === legacySeals;
    if (oldSeals && differences({ ...wanted, subjects: actual.subjects }, actual).length === 0)
      narrowed.push({ ...actual, subjects: wanted.subjects });
    else if (diff.length > 0) incompatible.push(`${wanted.name}: ${diff.join('; ')}`);
    else if (wanted.allow_atomic && (actual as Wanted).allow_atomic !== true)
      toAllowAtomic.push({ ...actual, allow_atomic: true } as StreamConfig);
    else report.unchanged.push(wanted.name);
  }
  const buckets = new Map<string, StreamConfig | undefined>();
  for (const bucket of [SNAPSHOT_BUCKET, COMMAND_BUCKET, HOLDS_BUCKET]) {
    const kvStream = `KV_${bucket}`;
    const kv = await streamConfig(jsm, kvStream);
    buckets.set(bucket, kv);
    if (kv && kv.num_replicas !== options.replicas) {
      incompatible.push(`${kvStream}: num_replicas: want ${options.replicas}, has ${kv.num_replicas}`);
    } else if (kv) {
      report.unchanged.push(kvStream);
    }
  }
  if (incompatible.length > 0) {
    throw new CimError(
      'CIM-STREAM-INCOMPATIBLE',
      `existing streams differ from what the event store needs:\n${incompatible.join('\n')}`,
      {
        hint: 'The appliance never changes these fields of an existing stream. Fix or remove it by hand (nats stream edit/rm), or use other domains.',
      },
    );
  }

  // Allowing atomic batches adds a way to publish and takes nothing away: a stream made before
  // group commit (or before the cluster's upgrade to 2.12) gets it too.
  for (const config of [...narrowed, ...toAllowAtomic]) {
    await jsm.streams.update(config.name, config);
    report.updated.push(config.name);
  }
  for (const wanted of missing) {
    // A cluster that has just elected its meta leader may still answer 503 for a while; creating a
    // stream with the same config again is a no-op, so asking again is safe.
    await createStream(DEFAULT_RETRY, wanted.name, () => jsm.streams.add(wanted));
    await waitForStreamLeader(jsm, wanted.name);
    report.created.push(wanted.name);
  }
  if (!buckets.get(SNAPSHOT_BUCKET)) {
    await nc.jetstream().views.kv(SNAPSHOT_BUCKET, { replicas: options.replicas, history: 1 });
    report.created.push(`KV_${SNAPSHOT_BUCKET}`);
  }
  if (!buckets.get(COMMAND_BUCKET)) {
    await nc.jetstream().views.kv(COMMAND_BUCKET, {
      replicas: options.replicas,
      history: 1,
      ttl: options.commandWindowMs ?? COMMAND_WINDOW_MS,
    });
    report.created.push(`KV_${COMMAND_BUCKET}`);
  }
  if (!buckets.get(HOLDS_BUCKET)) {
    await nc.jetstream().views.kv(HOLDS_BUCKET, { replicas: options.replicas, history: 1 });
    report.created.push(`KV_${HOLDS_BUCKET}`);
  }
  // The buckets' streams, like the others, are in use the moment this returns.
  for (const created of report.created.filter((name) => name.startsWith('KV_')))
    await waitForStreamLeader(jsm, created);
  return report;
}
