// What the renderers read of a performance report's `results`: the bench's results document, seen
// structurally, so reports/ never imports scenarios/ or bench/. The report carries `results` as
// `unknown` (it may come from an older appliance or a damaged file), so the parse is lenient: a
// field that is missing or of the wrong type becomes `undefined` (rendered "–"), a list that is not
// a list becomes empty, and an unrecognised phase is dropped, so a report always renders.
import { z } from 'zod';

const num = z.number().optional().catch(undefined);
const str = z.string().optional().catch(undefined);
const bool = z.boolean().optional().catch(undefined);
const strings = z.array(z.string()).catch([]);

/** A list whose unreadable elements are dropped rather than failing the list. */
function lenientList<T extends z.ZodType>(element: T) {
  return z
    .array(z.unknown())
    .catch([])
    .transform((items) =>
      items.flatMap((item) => {
        const parsed = element.safeParse(item);
        return parsed.success ? [parsed.data as z.output<T>] : [];
      }),
    );
}

const errorInfo = z.object({ code: z.string(), message: z.string() }).optional().catch(undefined);

const secondSample = z.object({ t: z.number(), ok: z.number(), failed: num, p50Ms: num, p99Ms: num });

const latency = z
  .object({ count: num, meanMs: num, p50Ms: num, p90Ms: num, p99Ms: num, p999Ms: num, maxMs: num, histogram: str })
  .optional()
  .catch(undefined);

const phaseBase = { name: z.string().catch('?'), startedAtMs: num, endedAtMs: num, error: errorInfo };

const loadPhase = z.object({
  ...phaseBase,
  type: z.literal('load'),
  driver: str,
  mix: str,
  rate: z
    .union([z.number(), z.literal('max')])
    .optional()
    .catch(undefined),
  concurrency: num,
  ok: num,
  failed: num,
  unknown: num,
  opsPerSec: num,
  ratioToRaw: num,
  latency,
  perSecond: lenientList(secondSample),
  errorsByCode: z.record(z.string(), z.number()).catch({}),
});

const faultPhase = z.object({
  ...phaseBase,
  type: z.literal('fault'),
  fault: z
    .object({
      action: z.string().catch('fault'),
      nodes: strings,
      firedAtMs: z.number(),
      healedAtMs: num,
      detail: z.string().catch(''),
      stayedDown: bool,
      corruption: z.object({ mode: str, bytes: num }).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
  recoveryMs: num,
  recovered: bool,
  recoveryReference: z.object({ perSec: num, kind: str }).optional().catch(undefined),
  dip: bool,
  recoveryNote: str,
  stallMs: num,
});

const rate = z.object({ perSecond: num }).optional().catch(undefined);

const replayPhase = z.object({
  ...phaseBase,
  type: z.literal('replay'),
  projection: str,
  replay: z
    .object({
      stream: str,
      events: num,
      bestRaw: z.object({ batch: num, perSecond: num }).optional().catch(undefined),
      replay: z.object({ events: num, seconds: num, perSecond: num, lastSeq: num }).optional().catch(undefined),
      replayToRaw: num,
    })
    .optional()
    .catch(undefined),
});

const checkPhase = z.object({ ...phaseBase, type: z.literal('check') });

const phase = z.discriminatedUnion('type', [loadPhase, faultPhase, replayPhase, checkPhase]);

const scenarioResult = z.object({
  scenario: z.string().catch('?'),
  description: str,
  seed: num,
  status: z.string().catch('unknown'),
  reason: str,
  errorCode: str,
  findings: z.array(z.string()).optional().catch(undefined),
  startedAt: str,
  seconds: num,
  /** In a version matrix: the server this result was measured on. */
  server: str,
  /** With `cim bench --repeat`: which repetition this is (from 1). */
  repetition: num,
  cluster: z
    .object({
      mode: str,
      nodes: num,
      replicas: num,
      servers: lenientList(z.object({ name: z.string(), version: str })),
      syncIntervalInEffect: str,
    })
    .optional()
    .catch(undefined),
  baseline: z
    .object({ payloadBytes: num, inFlight: num, publish: rate, read: rate, lost: num })
    .optional()
    .catch(undefined),
  phases: lenientList(phase),
  checker: z
    .object({
      attempted: num,
      acknowledged: num,
      failed: num,
      unknown: num,
      readItems: num,
      lost: num,
      unexpected: num,
      duplicates: num,
      samples: z.object({ lost: strings, unexpected: strings, duplicates: strings }).optional().catch(undefined),
      ok: bool,
      perReplica: lenientList(
        z.object({ server: z.string(), stream: str, lost: num, unexpected: num, duplicates: num }),
      ).optional(),
    })
    .optional()
    .catch(undefined),
  verification: z
    .object({
      domains: lenientList(z.object({ domain: z.string(), events: num, seals: num, findings: num })),
      findings: num,
      samples: strings,
    })
    .optional()
    .catch(undefined),
  replicas: z
    .object({
      streams: lenientList(
        z.object({
          stream: z.string(),
          replicas: lenientList(
            z.object({ server: z.string(), leader: bool, messages: num, firstSeq: num, lastSeq: num }),
          ),
        }),
      ),
      divergences: lenientList(
        z.object({
          stream: z.string(),
          replica: z.string(),
          reference: z.string(),
          kind: z.enum(['missing', 'extra', 'different']),
          sequences: lenientList(z.object({ from: z.number(), to: z.number() })),
          agreesWithSeals: z.enum(['replica', 'reference', 'neither', 'unsealed']).optional().catch(undefined),
        }),
      ),
      unreadable: lenientList(z.object({ server: z.string(), stream: z.string(), reason: z.string() })),
    })
    .optional()
    .catch(undefined),
  metrics: z.record(z.string(), z.number()).catch({}),
  checks: lenientList(z.object({ text: z.string(), ok: z.boolean(), actual: z.number().nullable().catch(null) })),
  /** After a fault, the data the system would not give back, and why (reports/verdict.ts). */
  unserved: z.object({ code: str, reason: z.string() }).optional().catch(undefined),
  /** Each node's CPU and memory, sampled from its monitoring port while the scenario ran. */
  serverStats: lenientList(z.object({ t: z.number(), node: z.string(), up: bool, cpuPercent: num, memBytes: num })),
});

export const performanceResultsSchema = z.object({
  runId: str,
  createdAt: str,
  scenarios: lenientList(scenarioResult),
  interrupted: bool,
  servers: z.array(z.string()).optional().catch(undefined),
  /** `cim bench --fail-on`; absent in results written before it existed (then `failed`). */
  failOn: z.enum(['failed', 'finding']).optional().catch(undefined),
});

export type PerformanceResultsView = z.output<typeof performanceResultsSchema>;
export type ScenarioView = PerformanceResultsView['scenarios'][number];
export type PhaseView = ScenarioView['phases'][number];
export type LoadPhaseView = Extract<PhaseView, { type: 'load' }>;
export type FaultPhaseView = Extract<PhaseView, { type: 'fault' }>;
export type ReplayPhaseView = Extract<PhaseView, { type: 'replay' }>;

/** The performance results of a report, or `undefined` when `results` is not such a document at all. */
export function readPerformanceResults(results: unknown): PerformanceResultsView | undefined {
  if (typeof results !== 'object' || results === null || !Array.isArray((results as { scenarios?: unknown }).scenarios))
    return undefined;
  const parsed = performanceResultsSchema.safeParse(results);
  return parsed.success ? parsed.data : undefined;
}
