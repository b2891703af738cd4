// The `http` load driver on a real 3-node cluster: the same mix once over NATS and once through the
// HTTP gateway the runner starts; the checker finds nothing lost, unexpected or duplicated, every
// acknowledgement the HTTP driver recorded names exactly the events its command caused, and the
// report's HTTP ÷ NATS figures come from the two phases. Then HTTP load across an appliance
// restart: the gateway (on the runner's connection) keeps serving, and what failed is recorded by
// the gateway's CIM code, as the NATS driver records it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnvelope, domainStream, loadConfig, readStream } from '../../appliance/index.js';
import type { OperationRecord } from '../../bench/index.js';
import type { LoadPhaseResult, ScenarioResult } from '../../scenarios/results.js';
import { runScenario, type BeforeCheckContext } from '../../scenarios/runner.js';
import type { Assertion, LoadPhase, MixEntry } from '../../scenarios/types.js';
import { fileTempDir } from '../support/temp-dir.js';

const state = fileTempDir('scenario-http');
const config = loadConfig({ env: {}, flags: { stateDir: state.path } });

const mix: MixEntry[] = [
  { command: 'person.RegisterPerson', weight: 2 },
  { command: 'person.RenamePerson', weight: 3 },
  { command: 'organization.CreateOrganization', weight: 1 },
  { command: 'organization.AddMember', weight: 2 },
  { command: 'workflow.StartWorkflow', weight: 1 },
  { command: 'workflow.AdvanceWorkflow', weight: 1 },
];
const expect0 = (...metrics: Assertion['metric'][]): Assertion[] =>
  metrics.map((metric) => ({ text: `${metric} == 0`, metric, op: '==', value: 0 }));
const load = (name: string, driver: 'nats' | 'http', extra: Partial<LoadPhase> = {}): LoadPhase => ({
  type: 'load',
  name,
  driver,
  rate: 'max',
  concurrency: 16,
  count: 300,
  mix,
  aggregates: 80,
  ...extra,
});

/** Per command id, the CIDs of the stored events it caused, in stream order. */
async function causedBy(ctx: BeforeCheckContext): Promise<Map<string, string[]>> {
  const jsm = await ctx.nc.jetstreamManager();
  const byCommand = new Map<string, string[]>();
  for (const domain of ctx.domains) {
    const stream = domainStream(domain);
    const { last_seq: last } = (await jsm.streams.info(stream)).state;
    if (last === 0) continue;
    for await (const m of readStream(ctx.nc.jetstream(), { stream, fromSeq: 1, toSeq: last })) {
      const { envelope, cid } = decodeEnvelope(m.data);
      const list = byCommand.get(envelope.causationId) ?? [];
      list.push(cid.toString());
      byCommand.set(envelope.causationId, list);
    }
  }
  return byCommand;
}

let versus: ScenarioResult;
let operations: OperationRecord[] = [];
let stored = new Map<string, string[]>();

beforeAll(async () => {
  versus = await runScenario(
    {
      name: 'http-vs-nats',
      description: 'the same mix over NATS and through the HTTP gateway',
      seed: 11,
      suites: [],
      cluster: { nodes: 3, replicas: 3 },
      phases: [
        load('over-nats', 'nats'),
        load('over-http', 'http'),
        {
          type: 'check',
          name: 'check',
          expect: [
            ...expect0('lost', 'unexpected', 'duplicates', 'verify_findings'),
            { text: 'http_to_nats_throughput > 0', metric: 'http_to_nats_throughput', op: '>', value: 0 },
          ],
        },
      ],
    },
    {
      config,
      runDir: `${state.path}/run`,
      baselineMessages: 1_000,
      beforeCheck: async (ctx) => {
        operations = [...ctx.operations];
        stored = await causedBy(ctx);
      },
    },
  );
}, 240_000);

afterAll(() => state.remove());

describe('driver http beside driver nats, same mix, same run', () => {
  it('passes the checker: nothing lost, unexpected or duplicated over both drivers', () => {
    expect(versus.status, versus.reason).toBe('passed');
    expect(versus.checker).toMatchObject({ lost: 0, unexpected: 0, duplicates: 0, ok: true });
    const http = versus.phases.find((p) => p.name === 'over-http') as LoadPhaseResult;
    expect(http).toMatchObject({ driver: 'http', failed: 0, unknown: 0, errorsByCode: {} });
    expect(http.ok).toBeGreaterThan(250);
    expect(http.latency.count).toBe(http.ok);
  });

  it('records each HTTP acknowledgement as exactly the events its command id caused, as the NATS driver does', () => {
    const ok = operations.filter((o) => o.outcome === 'ok');
    expect(ok.length).toBe(versus.checker!.acknowledged);
    const http = versus.phases.find((p) => p.name === 'over-http') as LoadPhaseResult;
    const httpOps = ok.filter((o) => o.endMs >= http.startedAtMs);
    expect(httpOps.length).toBe(http.ok);
    // A command may be acknowledged with no event (a rename to the name it has): then none is stored.
    expect(httpOps.filter((o) => o.acked.length > 0).length).toBeGreaterThan(http.ok / 2);
    for (const o of ok) expect(stored.get(o.id) ?? [], `${o.id} ${o.label}`).toEqual([...o.acked]);
  });

  it('sets the phases side by side: the driver, the mix, and http ÷ nats of throughput and latency', () => {
    const [nats, http] = ['over-nats', 'over-http'].map((n) => versus.phases.find((p) => p.name === n)) as [
      LoadPhaseResult,
      LoadPhaseResult,
    ];
    expect(nats.mix).toBe(http.mix);
    expect(nats.mix).toMatch(/^person\.RegisterPerson×2, person\.RenamePerson×3, /);
    expect(versus.metrics.http_to_nats_throughput).toBeCloseTo(http.opsPerSec / nats.opsPerSec, 9);
    expect(versus.metrics.http_to_nats_p99_ms).toBeCloseTo(http.latency.p99Ms / nats.latency.p99Ms, 9);
    expect(versus.checks.every((c) => c.ok)).toBe(true);
  });
});

describe('driver http across an appliance restart', () => {
  let restarted: ScenarioResult;
  beforeAll(async () => {
    restarted = await runScenario(
      {
        name: 'http-restart',
        description: 'HTTP load while the appliance restarts behind the gateway',
        seed: 12,
        suites: [],
        cluster: { nodes: 3, replicas: 3 },
        phases: [
          { ...load('load', 'http', { rate: 150, concurrency: 32 }), count: undefined, duration: 5_000 },
          { type: 'fault', name: 'restart', action: 'restart-appliance', at: 1_500 },
          { type: 'check', name: 'check', expect: expect0('lost', 'unexpected', 'duplicates') },
        ],
      },
      { config, runDir: `${state.path}/run`, baselineMessages: 1_000 },
    );
  }, 240_000);

  it('keeps the gateway serving: acknowledgements after the restart, nothing lost, errors by their CIM code', () => {
    expect(restarted.status, restarted.reason).toBe('passed');
    const phase = restarted.phases.find((p) => p.name === 'load') as LoadPhaseResult;
    const fault = restarted.phases.find((p) => p.name === 'restart');
    const firedAt = fault?.type === 'fault' ? fault.fault!.firedAtMs : Infinity;
    expect(phase.perSecond.filter((s) => s.t * 1_000 > firedAt + 1_000).some((s) => s.ok > 0)).toBe(true);
    for (const code of Object.keys(phase.errorsByCode)) expect(code).toMatch(/^CIM-[A-Z-]+$/);
    expect(phase.failed + phase.unknown).toBe(Object.values(phase.errorsByCode).reduce((a, b) => a + b, 0));
    expect(restarted.checker).toMatchObject({ lost: 0, unexpected: 0, duplicates: 0 });
  });
});
