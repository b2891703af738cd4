// The audit benchmark on a real server: both modes answer every command, only the audited rounds
// write records (one per command), the ratio comes from the same run, and the bench stream is gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import { AUDIT_STREAM, domainStream, readAuditLog } from '../../appliance/index.js';
import { renderAuditBenchmark, runAuditBenchmark, type AuditBenchmarkResult } from '../../bench/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

let t: TestCluster;
let serviceNc: NatsConnection;
let result: AuditBenchmarkResult;

beforeAll(async () => {
  t = await startTestCluster('audit-bench', 1);
  serviceNc = await t.connect('service', 'audit-bench-service');
  result = await runAuditBenchmark(t.nc, {
    messages: 200,
    aggregates: 20,
    inFlight: 8,
    replicas: 1,
    rounds: 2,
    serviceConnection: serviceNc,
  });
}, 60_000);

afterAll(async () => {
  await serviceNc?.close().catch(() => {});
  await t?.stop();
});

describe('the audit benchmark', () => {
  it('answers every command in both modes and records exactly the audited ones', async () => {
    expect(result.off.failed + result.on.failed).toBe(0);
    expect(result.off.messages).toBe(200);
    expect(result.on.messages).toBe(200);
    expect(result.ratio).toBeCloseTo(result.on.perSecond / result.off.perSecond, 6);
    const records = await readAuditLog(t.nc);
    expect(records).toHaveLength(200);
    expect(new Set(records.map((r) => r.record?.action))).toEqual(new Set(['command.benchaudit.RenamePerson']));
    const jsm = await t.nc.jetstreamManager();
    await expect(jsm.streams.info(domainStream('benchaudit'))).rejects.toThrow();
    expect((await jsm.streams.info(AUDIT_STREAM)).state.messages).toBe(200);
  });

  it('renders both modes and the ratio', () => {
    const text = renderAuditBenchmark(result);
    expect(text).toMatch(/^audit overhead: benchaudit, 8 in flight, 2 rounds of each mode alternating/);
    expect(text).toMatch(/on \/ off: \d\.\d{3} \([+-]\d+\.\d %; goal within 15 %/);
  });
});
