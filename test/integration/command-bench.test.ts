// The command benchmark on a real server: every command answered is a rename stored, the ratios
// are computed from the same run, and the bench streams are gone afterwards. Correctness only:
// how fast it ran is the benchmark's business, not a test's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../../appliance/index.js';
import { runCommandBenchmark, type CommandBenchmarkResult } from '../../bench/index.js';
import type { NatsConnection } from 'nats';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

let t: TestCluster;
let serviceNc: NatsConnection;
let result: CommandBenchmarkResult;

beforeAll(async () => {
  t = await startTestCluster('command-bench', 1);
  serviceNc = await connectNats(t.cluster.endpointFor('service'));
  result = await runCommandBenchmark(t.nc, {
    messages: 300,
    aggregates: 50,
    inFlight: 16,
    replicas: 1,
    serviceConnection: serviceNc,
    latencySeconds: 1,
    latencyRate: 100,
  });
});

afterAll(async () => {
  await serviceNc?.close().catch(() => {});
  await t?.stop();
});

describe('the command benchmark', () => {
  it('answers every command and stores exactly one rename for each', () => {
    expect(result.check.commandsFailed).toBe(0);
    expect(result.check.commandsOk).toBe(300 + result.latency!.command.acked);
    expect(result.check.renamesStored).toBe(result.check.commandsOk);
  });

  it('measures raw, append and command in the same run, with ratios from those figures', () => {
    const { raw, append, command } = result.throughput;
    expect([raw.messages, append.messages, command.messages]).toEqual([300, 300, 300]);
    // From the acknowledged counts and the elapsed times, not the figures' own perSecond.
    const rate = (figure: { messages: number; seconds: number }) => figure.messages / figure.seconds;
    expect(result.throughput.commandToRaw).toBeCloseTo(rate(command) / rate(raw), 9);
    expect(result.throughput.commandToAppend).toBeCloseTo(rate(command) / rate(append), 9);
  });

  it('records every request→reply of the fixed-rate phase in the histogram', () => {
    expect(result.latency!.command).toMatchObject({ sent: 100, acked: 100, failed: 0, count: 100 });
    expect(result.latency!.command.p50Ms).toBeLessThanOrEqual(result.latency!.command.p99Ms);
  });

  it('rebuilds the person directory from every event of the bench stream, against raw reads of the same stream', () => {
    const replay = result.replay!;
    // People registered, renames by throughput and latency phases: all of them in the stream.
    expect(replay.events).toBe(50 + result.check.renamesStored + 300);
    expect(replay.replay.events).toBe(replay.events);
    expect(replay.rawReads.map((r) => r.messages)).toEqual(replay.rawReads.map(() => replay.events));
    expect(replay.bestRaw.perSecond).toBe(Math.max(...replay.rawReads.map((r) => r.perSecond)));
    expect(replay.replayToRaw).toBeCloseTo(
      replay.replay.events / replay.replay.seconds / (replay.bestRaw.messages / replay.bestRaw.seconds),
      9,
    );
  });

  it('leaves no bench stream behind', async () => {
    const jsm = await t.nc.jetstreamManager();
    const names: string[] = [];
    for await (const info of jsm.streams.list()) names.push(info.config.name);
    expect(names).not.toContain('CIM_BENCHCMD');
    expect(names).not.toContain('CIM_BENCH_CMDRAW');
  });
});
