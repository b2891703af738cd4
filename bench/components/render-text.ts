// Plain-text tables of the component benchmarks' results for the terminal, written with the
// figure rules every rendering shares (reports/render/format.ts); nothing measured or printed here.
import type { AuditBenchmarkResult, AuditModeFigures } from './audit-overhead.js';
import type { AppendBenchmarkResult } from './append-throughput.js';
import type { CommandBenchmarkResult } from './command-throughput.js';
import type { GrowthBenchmarkResult } from './cost-growth.js';
import type { HttpCommandBenchmarkResult } from './http-command.js';
import type { LatencyFigure, ThroughputFigure } from '../schedule.js';
import type { MicroBenchmarkResult } from './micro.js';
import type { TracingBenchmarkResult } from './tracing-overhead.js';
import { alignedTable, count, decimal, ratio } from '../../reports/index.js';

export function renderMicroBenchmarks(results: readonly MicroBenchmarkResult[]): string {
  if (results.length === 0) return 'micro-benchmarks: none completed';
  const rows = [
    ['micro-benchmark', 'ops/s', 'mean µs', 'p99 µs', 'samples', 'items/s per core'],
    ...results.map((r) => [
      r.name,
      decimal(r.opsPerSecond),
      decimal(r.meanMicros),
      decimal(r.p99Micros),
      count(r.samples),
      r.itemsPerOp === 1 ? '' : count(r.itemsPerSecond),
    ]),
  ];
  const relative = results
    .filter((r) => r.relative)
    .map((r) => `${r.name}: ${ratio(r.relative!.ratio)} the items/s of ${r.relative!.to} (same run)`);
  return [alignedTable(rows), ...relative].join('\n');
}

const percentiles = ['p50Ms', 'p90Ms', 'p99Ms', 'p999Ms', 'maxMs'] as const;

function latencyRow(label: string, figure: LatencyFigure): string[] {
  return [
    label,
    count(figure.achievedRate),
    ...percentiles.map((p) => decimal(figure[p])),
    count(figure.count),
    decimal(figure.maxScheduleLagMs),
  ];
}

/** A throughput table's row: rate, acknowledged, failed, seconds. */
function throughputRow(label: string, f: ThroughputFigure): string[] {
  return [label, count(f.perSecond), count(f.messages), count(f.failed), f.seconds.toFixed(2)];
}

export function renderAppendBenchmark(result: AppendBenchmarkResult): string {
  const { throughput, latency, check } = result;
  const lines = [
    `append benchmark: ${result.stream} vs raw ${result.rawStream}, R${result.replicas}, ${count(result.aggregates)} aggregates/subjects, ` +
      `${result.lanes} in flight, payload ${result.payloadBytes} B, messages ${result.messageBytes} B`,
    '',
    alignedTable([
      ['throughput', 'msgs/s', 'acked', 'failed', 'seconds'],
      throughputRow('raw publish', throughput.raw),
      throughputRow('raw + msg id + expected seq', throughput.rawWithContract),
      ...(throughput.rawBatch
        ? [throughputRow(`raw atomic batches of ${throughput.rawBatch.batchSize}`, throughput.rawBatch)]
        : []),
      throughputRow('event append, one by one', throughput.appendSingle),
      throughputRow(result.groupCommit ? 'event append, group commit' : 'event append', throughput.append),
      ['append / raw', ratio(throughput.ratio)],
      ['(raw + contract) / raw', ratio(throughput.contractRatio)],
      ['append / (raw + contract)', ratio(throughput.appendToContractRatio)],
      ['one by one / (raw + contract)', ratio(throughput.appendSingleToContractRatio)],
      ...(throughput.appendToRawBatchRatio !== undefined
        ? [['append / raw atomic batches', ratio(throughput.appendToRawBatchRatio)]]
        : []),
    ]),
  ];
  if (result.groupCommit) {
    const g = result.groupCommit;
    lines.push(
      `group commit: ${count(g.batchedEvents)} events in ${count(g.batches)} atomic batches (mean ${g.meanBatchSize.toFixed(1)}), ` +
        `${count(g.alone)} appends alone, ${count(g.splits)} batch${g.splits === 1 ? '' : 'es'} split after a refusal`,
    );
  }
  if (latency) {
    lines.push(
      '',
      `publish→ack latency at ${count(latency.rate)} msgs/s for ${latency.seconds} s each (ms)`,
      alignedTable([
        ['', 'msgs/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'count', 'max lag'],
        latencyRow('raw publish', latency.raw),
        latencyRow('event append', latency.append),
        [
          'append / raw',
          '',
          ...percentiles.map((p) => ratio(latency.raw[p] > 0 ? latency.append[p] / latency.raw[p] : 0)),
        ],
      ]),
    );
  }
  if (result.verify) {
    const v = result.verify;
    lines.push(
      '',
      `verify (over NATS: read, chains, seal root and signature): ${count(v.events)} events in ${v.verifySeconds.toFixed(2)} s = ${count(v.eventsPerSecond)} events/s, ` +
        `${v.findings} findings; sealing them took ${v.sealSeconds.toFixed(2)} s (${v.seals} seal${v.seals === 1 ? '' : 's'})`,
    );
    const threads =
      v.workers === 0 ? 'in the reading thread' : `${v.workers} worker thread${v.workers === 1 ? '' : 's'}`;
    if (v.bestRawRead)
      lines.push(
        `  ${ratio(v.toRawRead)} the best raw ordered read of the same stream (${count(v.bestRawRead.perSecond)} msgs/s, pull ${v.bestRawRead.batch}); events checked ${threads}`,
      );
    if (v.smaller)
      lines.push(
        `  linear in events: ${count(v.smaller.events)} events at ${count(v.smaller.eventsPerSecond)} events/s, ${count(v.events)} at ${count(v.eventsPerSecond)} events/s: ${ratio(v.linearity)} (1.00× is linear)`,
      );
  }
  lines.push(
    '',
    `check: raw ${count(check.rawAcked)} acked, ${count(check.rawStored)} stored, lost ${check.rawLost}; ` +
      `append ${count(check.appendAcked)} acked, ${count(check.appendStored)} stored, lost ${check.appendLost}, duplicates ${check.duplicates}`,
  );
  if (result.interrupted) lines.push('interrupted: the figures cover what was done');
  return lines.join('\n');
}

export function renderCommandBenchmark(result: CommandBenchmarkResult): string {
  const { throughput: t, latency, check } = result;
  const lines = [
    `command benchmark: domain ${result.domain} (the person decider), ${count(result.aggregates)} people, ${result.lanes} in flight, events ${result.messageBytes} B`,
    '',
    alignedTable([
      ['throughput', 'ops/s', 'ok', 'failed', 'seconds'],
      throughputRow('raw publish', t.raw),
      throughputRow('event append', t.append),
      throughputRow('command (NATS request)', t.command),
      ['command / raw', ratio(t.commandToRaw)],
      ['command / append', ratio(t.commandToAppend)],
    ]),
  ];
  if (latency) {
    lines.push(
      '',
      `latency at ${count(latency.rate)} ops/s for ${latency.seconds} s each (ms): raw publish→ack, command request→reply`,
      alignedTable([
        ['', 'ops/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'count', 'max lag'],
        latencyRow('raw publish', latency.raw),
        latencyRow('command', latency.command),
        [
          'command / raw',
          '',
          ...percentiles.map((p) => ratio(latency.raw[p] > 0 ? latency.command[p] / latency.raw[p] : 0)),
        ],
      ]),
    );
  }
  if (result.replay) {
    const r = result.replay;
    lines.push(
      '',
      `projection rebuild: ${r.projection} from ${r.stream} (${count(r.events)} events) against the raw ordered read of the same stream`,
      alignedTable([
        ['', 'events/s', 'events', 'seconds'],
        ...r.rawReads.map((f) => [
          `raw read, pull ${f.batch}${f === r.bestRaw ? ' (best)' : ''}`,
          count(f.perSecond),
          count(f.messages),
          f.seconds.toFixed(2),
        ]),
        ['replay into SQLite', count(r.replay.perSecond), count(r.replay.events), r.replay.seconds.toFixed(2)],
        ['replay / best raw', ratio(r.replayToRaw)],
      ]),
    );
  }
  lines.push(
    '',
    `check: ${count(check.commandsOk)} commands answered with events, ${check.commandsFailed} failed; ${count(check.renamesStored)} renames stored`,
  );
  if (result.interrupted) lines.push('interrupted: the figures cover what was done');
  return lines.join('\n');
}

const signedPercent = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;

export function renderTracingBenchmark(result: TracingBenchmarkResult): string {
  const row = (label: string, f: TracingBenchmarkResult['off']) => [
    label,
    count(f.messages),
    count(f.failed),
    decimal(f.seconds),
    count(f.perSecond),
  ];
  return [
    `telemetry overhead (tracing and metrics): ${result.domain}, ${result.lanes} in flight, ${result.rounds} rounds of each mode alternating` +
      (result.interrupted ? ' (interrupted: partial figures)' : ''),
    alignedTable([
      ['commands', 'ok', 'failed', 's', 'cmds/s'],
      row('telemetry off (no SDK, no metrics)', result.off),
      row('tracing (all sampled, spans dropped) and metrics on', result.on),
      row('tracing (a tenth sampled) and metrics on', result.tenth),
    ]),
    `  on / off: ${result.ratio.toFixed(3)} (${signedPercent(result.ratio - 1)}; goal within 5 %); ${decimal(result.spansPerCommand)} spans per traced command`,
    `  tenth / off: ${result.tenthRatio.toFixed(3)} (${signedPercent(result.tenthRatio - 1)})`,
  ].join('\n');
}

export function renderAuditBenchmark(result: AuditBenchmarkResult): string {
  const rows = (f: AuditModeFigures) =>
    (
      [
        ['audit off (no sink)', f.off],
        ['audit on (a record per command, before the reply)', f.on],
        ['audit on and personal data encrypted', f.both],
      ] as const
    ).map(([label, t]) => [
      label,
      count(f.lanes),
      count(t.messages),
      count(t.failed),
      decimal(t.seconds),
      count(t.perSecond),
    ]);
  const ratios = (f: AuditModeFigures) =>
    `on / off ${f.ratio.toFixed(3)} (${signedPercent(f.ratio - 1)}), both / off ${f.bothRatio.toFixed(3)} (${signedPercent(f.bothRatio - 1)})`;
  const { configured, capacity } = result;
  return [
    `audit overhead: ${result.domain}, ${result.rounds} rounds of each mode alternating` +
      (result.interrupted ? ' (interrupted: partial figures)' : ''),
    alignedTable([['commands', 'in flight', 'ok', 'failed', 's', 'cmds/s'], ...rows(configured), ...rows(capacity)]),
    `  at ${count(configured.lanes)} in flight: ${ratios(configured)}; the extra replicated write a command waits for, as latency`,
    `  at ${count(capacity.lanes)} in flight (capacity): ${ratios(capacity)}; goal: both / off within 15 %`,
    `  audit records per stored message: ${decimal(result.recordsPerMessage)} (a writer's batch is one message)`,
  ].join('\n');
}

export function renderHttpCommandBenchmark(result: HttpCommandBenchmarkResult): string {
  const { nats, http, ratio: r } = result;
  const row = (label: string, side: HttpCommandBenchmarkResult['nats']) => [
    label,
    count(side.perSecond),
    count(side.messages),
    count(side.failed),
    side.seconds.toFixed(2),
    decimal(side.latency.p50Ms),
    decimal(side.latency.p99Ms),
    decimal(side.latency.p999Ms),
  ];
  const lines = [
    `HTTP gateway vs NATS: domain ${result.domain} (the person decider), renames of ${count(result.aggregates)} people, closed loop of ${result.connections} (NATS requests; ${http.tool} keep-alive connections)`,
    '',
    alignedTable([
      ['commands', 'ops/s', 'ok', 'failed', 'seconds', 'p50 ms', 'p99 ms', 'p99.9 ms'],
      row('over NATS', nats),
      row('over HTTP', http),
      ['http / nats', ratio(r.throughput), '', '', '', ratio(r.p50), ratio(r.p99), ratio(r.p999)],
    ]),
    `  goal: throughput ≥ 0.70× NATS — ${r.throughput >= 0.7 ? 'met' : 'not met'}; check: ${count(result.check.commandsOk)} renames answered ok, ${count(result.check.renamesStored)} stored` +
      (http.non2xx + http.errors > 0
        ? `; HTTP: ${count(http.non2xx)} non-2xx, ${count(http.errors)} errors (${count(http.timeouts)} timeouts)`
        : ''),
  ];
  return lines.join('\n');
}

export function renderGrowthBenchmark(result: GrowthBenchmarkResult): string {
  const { append, rebuild } = result;
  const cost = (f: GrowthBenchmarkResult['append']['histories'][number]['snapshots']) => [
    decimal(f.p50Ms),
    decimal(f.p90Ms),
    count(f.samples),
    `${count(f.replayed)}${f.fromSnapshot ? ' after snapshot' : ''}`,
  ];
  const size = (label: string, r: GrowthBenchmarkResult['rebuild']['small']) => [
    label,
    count(r.events),
    count(r.perSecond),
    count(r.bestRawPerSecond),
    ratio(r.replayToRaw),
  ];
  return [
    `cost growth: ${result.domain}` + (result.interrupted ? ' (interrupted: partial figures)' : ''),
    '',
    'one more command (load + decide + append, ms) on an aggregate with a history of',
    alignedTable([
      ['events', 'snapshots p50', 'p90', 'samples', 'replayed', 'no snapshots p50', 'p90', 'samples', 'replayed'],
      ...append.histories.map((h) => [count(h.history), ...cost(h.snapshots), ...cost(h.noSnapshots)]),
    ]),
    `  longest / shortest history, p50: snapshots ${ratio(append.snapshotsGrowth)}, no snapshots ${ratio(append.noSnapshotsGrowth)}`,
    '',
    'projection rebuild at N and 10·N events (against the best raw ordered read of the same span)',
    alignedTable([
      ['', 'events', 'events/s', 'raw read/s', 'rebuild / raw'],
      size('N', rebuild.small),
      size('10·N', rebuild.large),
      size('10·N, worker thread', rebuild.worker),
    ]),
    `  events/s at 10·N / at N: ${ratio(rebuild.rateGrowth)} (1 = linear in the events); the line through both: ${decimal(rebuild.fixedSeconds)} s + ${decimal(rebuild.microsPerEvent)} µs per event`,
  ].join('\n');
}
