// The results of a bench run as a zod schema: what `cim bench --out FILE` writes and what a
// performance report carries as `results`. It is the source of the published JSON Schema
// (`reports/schema/bench-results.schema.json`, `cim report schema results`); the types in
// results.ts stay the code's contract, and test/unit/results-schema.test.ts holds the two together
// (each assignable to the other, and real runs' files valid against the published schema).
// Objects are strict: a field the schema does not name is an error, so the schema cannot fall
// behind the files silently. New fields are optional, so files written before them stay valid.
import { z } from 'zod';
import { FAIL_ON_VALUES, VERDICT_PRECEDENCE, type FailOn, type Verdict } from '../reports/index.js';
import { RESULTS_VERSION } from './results.js';

const count = z.number().int().min(0);
const ms = z.number();
const figure = z.number().nullable();

const Environment = z.strictObject({
  node: z.string(),
  platform: z.string(),
  cpu: z.strictObject({ model: z.string(), cores: count }),
  memoryBytes: count,
  gitRevision: z.string().optional(),
  appliance: z.string(),
  kernel: z.string().optional(),
  natsJs: z.string().optional(),
  natscli: z.string().optional(),
  storeFileSystem: z.string().optional(),
});

const Rate = z.strictObject({ messages: count, seconds: z.number(), perSecond: z.number() });
const RawRead = z.strictObject({ batch: count, messages: count, seconds: z.number(), perSecond: z.number() });

const RawBaseline = z.strictObject({
  stream: z.string(),
  replicas: count,
  payloadBytes: count,
  subjects: count,
  inFlight: count,
  publish: Rate,
  read: Rate,
  lost: count,
  corrupted: count,
  interrupted: z.boolean(),
});

const Latency = z.strictObject({
  count,
  meanMs: ms,
  p50Ms: ms,
  p90Ms: ms,
  p99Ms: ms,
  p999Ms: ms,
  maxMs: ms,
  histogram: z.string().describe("HdrHistogram's compressed base64 form, in µs"),
});

const Second = z.strictObject({ t: z.number(), ok: count, failed: count, p50Ms: ms, p99Ms: ms });

const ServerSample = z.strictObject({
  t: z.number(),
  node: z.string(),
  up: z.boolean(),
  cpuPercent: z.number().optional(),
  memBytes: z.number().optional(),
  inMsgs: z.number().optional(),
  outMsgs: z.number().optional(),
  jsMessages: z.number().optional(),
  jsBytes: z.number().optional(),
});

const PhaseBase = {
  name: z.string(),
  startedAtMs: ms,
  endedAtMs: ms,
  error: z.strictObject({ code: z.string(), message: z.string() }).optional(),
};

const LoadPhase = z.strictObject({
  ...PhaseBase,
  type: z.literal('load'),
  driver: z.string(),
  mix: z.string().optional(),
  rate: z.union([z.number(), z.literal('max')]),
  concurrency: count,
  ok: count,
  failed: count,
  unknown: count,
  opsPerSec: z.number(),
  ratioToRaw: z.number(),
  latency: Latency,
  perSecond: z.array(Second),
  errorsByCode: z.record(z.string(), count),
});

const Fault = z.strictObject({
  phase: z.string(),
  action: z.enum(['kill', 'pause', 'restart', 'corrupt', 'restart-appliance', 'partition']),
  nodes: z.array(z.string()),
  firedAtMs: ms,
  healedAtMs: ms.optional(),
  detail: z.string(),
  stayedDown: z.boolean().optional(),
  corruption: z
    .strictObject({ file: z.string(), mode: z.string(), bytes: count, offsets: z.array(count).optional() })
    .optional(),
  partition: z
    .strictObject({
      groups: z.array(z.array(z.string())),
      fromClients: z.array(z.string()),
      cuts: z.array(z.strictObject({ atMs: ms, healedAtMs: ms.optional() })),
    })
    .optional(),
});

const FaultPhase = z.strictObject({
  ...PhaseBase,
  type: z.literal('fault'),
  fault: Fault.optional(),
  recoveryMs: ms.optional(),
  recovered: z.boolean().optional(),
  recoveryReference: z.strictObject({ perSec: z.number(), kind: z.enum(['offered', 'before-fault']) }).optional(),
  dip: z.boolean().optional(),
  recoveryNote: z.string().optional(),
  stallMs: ms.optional(),
});

const ReplayPhase = z.strictObject({
  ...PhaseBase,
  type: z.literal('replay'),
  projection: z.string(),
  replay: z
    .strictObject({
      projection: z.string(),
      stream: z.string(),
      events: count,
      rawReads: z.array(RawRead),
      bestRaw: RawRead,
      replay: z.strictObject({ events: count, seconds: z.number(), perSecond: z.number(), lastSeq: count }),
      replayToRaw: z.number(),
    })
    .optional(),
});

const CheckPhase = z.strictObject({ ...PhaseBase, type: z.literal('check') });

const Phase = z.discriminatedUnion('type', [LoadPhase, FaultPhase, ReplayPhase, CheckPhase]);

const ReplicaCheck = z.strictObject({
  server: z.string(),
  stream: z.string().optional(),
  lost: count,
  unexpected: count,
  duplicates: count,
});

const Checker = z.strictObject({
  attempted: count,
  acknowledged: count,
  failed: count,
  unknown: count,
  ackedItems: count,
  readItems: count,
  lost: count,
  unexpected: count,
  duplicates: count,
  samples: z.strictObject({
    lost: z.array(z.string()),
    unexpected: z.array(z.string()),
    duplicates: z.array(z.string()),
  }),
  lostBy: z.record(z.string(), count).optional().describe('absent in results written before it existed'),
  ok: z.boolean(),
  streams: z.array(z.strictObject({ stream: z.string(), scanned: count, undecodable: count, meanBytes: z.number() })),
  perReplica: z.array(ReplicaCheck).optional(),
});

const Replicas = z.strictObject({
  streams: z.array(
    z.strictObject({
      stream: z.string(),
      replicas: z.array(
        z.strictObject({
          server: z.string(),
          stream: z.string(),
          leader: z.boolean(),
          messages: count,
          firstSeq: count,
          lastSeq: count,
        }),
      ),
    }),
  ),
  divergences: z.array(
    z.strictObject({
      stream: z.string(),
      replica: z.string(),
      reference: z.string(),
      kind: z.enum(['missing', 'extra', 'different']),
      sequences: z.array(z.strictObject({ from: count, to: count })),
      agreesWithSeals: z.enum(['replica', 'reference', 'neither', 'unsealed']).optional(),
    }),
  ),
  unreadable: z.array(z.strictObject({ server: z.string(), stream: z.string(), reason: z.string() })),
});

const Cluster = z.strictObject({
  nodes: count,
  replicas: count,
  syncInterval: z.string().optional(),
  mode: z.enum(['embedded', 'embedded-running', 'attached']),
  servers: z.array(z.strictObject({ name: z.string(), version: z.string().optional() })),
  serverBuild: z
    .strictObject({
      path: z.string(),
      version: z.string(),
      source: z.string().optional(),
      goVersion: z.string().optional(),
      oldServerNote: z.string().optional(),
    })
    .optional(),
  syncIntervalInEffect: z.string(),
});

const Scenario = z.strictObject({
  scenario: z.string(),
  description: z.string(),
  seed: z.number().int(),
  file: z.string().optional(),
  status: z.enum(VERDICT_PRECEDENCE as [Verdict, ...Verdict[]]),
  server: z.string().optional(),
  repetition: z.number().int().min(1).optional(),
  reason: z.string().optional(),
  errorCode: z.string().optional(),
  findings: z.array(z.string()).optional(),
  unserved: z.strictObject({ code: z.string(), reason: z.string() }).optional(),
  startedAt: z.string(),
  seconds: z.number(),
  cluster: Cluster,
  baseline: RawBaseline.optional(),
  phases: z.array(Phase),
  checker: Checker.optional(),
  replicas: Replicas.optional(),
  verification: z
    .strictObject({
      domains: z.array(z.strictObject({ domain: z.string(), events: count, seals: count, findings: count })),
      findings: count,
      samples: z.array(z.string()),
    })
    .optional(),
  metrics: z.record(z.string(), z.number()),
  checks: z.array(z.strictObject({ text: z.string(), ok: z.boolean(), actual: figure })),
  serverStats: z.array(ServerSample),
});

export const BenchResultsSchema = z
  .strictObject({
    v: z.literal(RESULTS_VERSION),
    kind: z.literal('performance-results'),
    runId: z.string(),
    createdAt: z.string(),
    environment: Environment,
    scenarios: z.array(Scenario),
    interrupted: z.boolean(),
    servers: z.array(z.string()).optional(),
    failOn: z.enum(FAIL_ON_VALUES as [FailOn, ...FailOn[]]).optional(),
  })
  .meta({
    title: 'CIM Appliance bench results',
    description:
      'What `cim bench --out FILE` writes, and the `results` of a performance report (docs/architecture.md#published-json-schemas).',
  });

/** The published JSON Schema (draft 2020-12) of bench results. */
export function benchResultsJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(BenchResultsSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
}
