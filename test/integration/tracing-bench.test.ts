// The tracing benchmark on a real server: both modes answer every command, the traced one hands
// the exporter the four spans of each command (send, process, decide, publish), the ratio comes
// from the same run, and afterwards no SDK is left registered and the bench stream is gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import { activeTracer, connectNats, domainStream } from '../../appliance/index.js';
import { renderTracingBenchmark, runTracingBenchmark, type TracingBenchmarkResult } from '../../bench/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

let t: TestCluster;
let serviceNc: NatsConnection;
let result: TracingBenchmarkResult;

beforeAll(async () => {
  t = await startTestCluster('tracing-bench', 1);
  serviceNc = await connectNats(t.cluster.endpointFor('service'));
  result = await runTracingBenchmark(t.nc, {
    messages: 200,
    aggregates: 20,
    inFlight: 8,
    replicas: 1,
    rounds: 2,
    serviceConnection: serviceNc,
  });
});

afterAll(async () => {
  await serviceNc?.close().catch(() => {});
  await t?.stop();
});

describe('the tracing benchmark', () => {
  it('answers every command in both modes, with the ratio of the same run', () => {
    expect([result.off, result.on, result.tenth].map((f) => [f.messages, f.failed])).toEqual([
      [200, 0],
      [200, 0],
      [200, 0],
    ]);
    expect(result.ratio).toBeCloseTo(result.on.perSecond / result.off.perSecond, 9);
    expect(result.tenthRatio).toBeCloseTo(result.tenth.perSecond / result.off.perSecond, 9);
    expect(result.interrupted).toBe(false);
  });

  it('traces every command of the traced rounds, and none after', () => {
    expect(result.spansPerCommand).toBe(4);
    expect(activeTracer()).toBeUndefined();
  });

  it('leaves no bench stream behind, and refuses a domain it must not delete', async () => {
    const jsm = await t.nc.jetstreamManager();
    await expect(jsm.streams.info(domainStream(result.domain))).rejects.toThrow(/not found/i);
    await expect(
      runTracingBenchmark(t.nc, { messages: 1, aggregates: 1, inFlight: 1, replicas: 1, domain: 'person' }),
    ).rejects.toMatchObject({ code: 'CIM-INVALID-INPUT' });
  });

  it('renders both modes and the ratio', () => {
    const text = renderTracingBenchmark(result);
    expect(text).toMatch(/telemetry off \(no SDK, no metrics\)\s+200\s+0/);
    expect(text).toMatch(/tracing \(all sampled, spans dropped\) and metrics on\s+200\s+0/);
    expect(text).toContain(`on / off: ${result.ratio.toFixed(3)}`);
    expect(text).toContain('4.00 spans per traced command');
    expect(text).toContain(`tenth / off: ${result.tenthRatio.toFixed(3)}`);
  });
});
