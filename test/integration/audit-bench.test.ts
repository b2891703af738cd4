// The audit benchmark on a real server: every mode answers every command, only the audited rounds
// write records (one per command), every registered person has a key, the ratios come
// from the same run, and the bench stream is gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { NatsConnection } from 'nats';
import { AUDIT_STREAM, domainStream, readAuditLog } from '../../appliance/index.js';
import { renderAuditBenchmark, runAuditBenchmark, type AuditBenchmarkResult } from '../../bench/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { tempDir } from '../support/temp-dir.js';

let t: TestCluster;
let serviceNc: NatsConnection;
let result: AuditBenchmarkResult;
const keys = tempDir('audit-bench-keys');

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
    keyStoreDir: keys.path,
  });
}, 60_000);

afterAll(async () => {
  await serviceNc?.close().catch(() => {});
  await t?.stop();
  keys.remove();
});

describe('the audit benchmark', () => {
  it('answers every command in every mode and records exactly the audited ones', async () => {
    expect(result.off.failed + result.on.failed + result.both.failed).toBe(0);
    expect(result.off.messages).toBe(200);
    expect(result.on.messages).toBe(200);
    expect(result.both.messages).toBe(200);
    expect(result.ratio).toBeCloseTo(result.on.perSecond / result.off.perSecond, 6);
    expect(result.bothRatio).toBeCloseTo(result.both.perSecond / result.off.perSecond, 6);
    // People are registered encrypted, as cim serve registers them: each of the 20 has a key of its own.
    const store = new Database(join(keys.path, 'subject-keys.sqlite'), { readonly: true });
    try {
      const keyed = store.prepare('SELECT count(*) AS n FROM subject_keys WHERE key IS NOT NULL').get() as {
        n: number;
      };
      expect(keyed.n).toBe(20);
    } finally {
      store.close();
    }
    const records = await readAuditLog(t.nc);
    expect(records).toHaveLength(400);
    expect(new Set(records.map((r) => r.record?.action))).toEqual(new Set(['command.benchaudit.RenamePerson']));
    const jsm = await t.nc.jetstreamManager();
    await expect(jsm.streams.info(domainStream('benchaudit'))).rejects.toThrow();
    // A writer's batch is one message: fewer messages than records, each record in one.
    const messages = (await jsm.streams.info(AUDIT_STREAM)).state.messages;
    expect(messages).toBe(new Set(records.map((r) => r.streamSeq)).size);
    expect(messages).toBeLessThan(400);
    expect(result.recordsPerMessage).toBeCloseTo(400 / messages, 6);
  });

  it('renders the modes and the ratios', () => {
    const text = renderAuditBenchmark(result);
    expect(text).toMatch(/^audit overhead: benchaudit, 8 in flight, 2 rounds of each mode alternating/);
    expect(text).toMatch(/audit on \/ off: \d\.\d{3} \([+-]\d+\.\d %\)/);
    expect(text).toMatch(/both \/ off: \d\.\d{3} \([+-]\d+\.\d %; goal within 15 %\)/);
    expect(text).toMatch(/audit records per stored message: \d+(\.\d+)? \(a writer's batch is one message\)/);
  });
});
