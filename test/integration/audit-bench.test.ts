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
    // Each mode at the configured 8 in flight, and at four times as many (capped at one per person: 20).
    expect([result.configured.lanes, result.capacity.lanes]).toEqual([8, 20]);
    for (const f of [result.configured, result.capacity]) {
      expect(f.off.failed + f.on.failed + f.both.failed).toBe(0);
      expect([f.off.messages, f.on.messages, f.both.messages]).toEqual([200, 200, 200]);
      expect(f.ratio).toBeCloseTo(f.on.perSecond / f.off.perSecond, 6);
      expect(f.bothRatio).toBeCloseTo(f.both.perSecond / f.off.perSecond, 6);
    }
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
    expect(records).toHaveLength(800);
    expect(new Set(records.map((r) => r.record?.action))).toEqual(new Set(['command.benchaudit.RenamePerson']));
    const jsm = await t.nc.jetstreamManager();
    await expect(jsm.streams.info(domainStream('benchaudit'))).rejects.toThrow();
    // A writer's batch is one message: fewer messages than records, each record in one.
    const messages = (await jsm.streams.info(AUDIT_STREAM)).state.messages;
    expect(messages).toBe(new Set(records.map((r) => r.streamSeq)).size);
    expect(messages).toBeLessThan(800);
    expect(result.recordsPerMessage).toBeCloseTo(800 / messages, 6);
  });

  it('renders the modes and the ratios', () => {
    const text = renderAuditBenchmark(result);
    expect(text).toMatch(/^audit overhead: benchaudit, 2 rounds of each mode alternating/);
    expect(text).toMatch(/^audit on and personal data encrypted +20 +200 +0 /m);
    const ratios = String.raw`on \/ off \d\.\d{3} \([+-]\d+\.\d %\), both \/ off \d\.\d{3} \([+-]\d+\.\d %\)`;
    expect(text).toMatch(new RegExp(String.raw`^  at 8 in flight: ${ratios}; the extra replicated write`, 'm'));
    expect(text).toMatch(
      new RegExp(String.raw`^  at 20 in flight \(capacity\): ${ratios}; goal: both / off within 15 %$`, 'm'),
    );
    expect(text).toMatch(/audit records per stored message: \d+(\.\d+)? \(a writer's batch is one message\)/);
  });
});
