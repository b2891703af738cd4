// Text for `cim scenario list` and `cim scenario show`: what a scenario does, when each phase runs
// and what its checks mean, and how long it is expected to take.
import { alignedTable } from '../reports/index.js';
import {
  METRICS,
  type FaultPhase,
  type FaultTarget,
  type LoadPhase,
  type Phase,
  type ReplayPhase,
  type Scenario,
} from './types.js';

/** 500 → `500ms`, 20000 → `20s`, 90000 → `1m30s`, 3600000 → `1h`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1_000).toFixed(ms % 1_000 === 0 ? 0 : 1))}s`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = Math.round((ms % 60_000) / 1_000);
  return [hours ? `${hours}h` : '', minutes ? `${minutes}m` : '', seconds ? `${seconds}s` : ''].join('') || '0s';
}

export function describeTarget(target: FaultTarget): string {
  if ('node' in target) return `node ${target.node}`;
  if ('leaderOf' in target) return `the leader of ${target.leaderOf}`;
  if ('followerOf' in target) return `a follower of ${target.followerOf}`;
  return 'all nodes';
}

/** `n1 | n2 n3`. */
export function describeSplit(groups: readonly (readonly string[])[]): string {
  return groups.map((g) => g.join(' ')).join(' | ');
}

/** What a partition fault cuts, for how long, and how it heals, in one line. */
export function describePartition(phase: FaultPhase): string {
  const what = phase.split
    ? `splits the network into ${describeSplit(phase.split)} (clients reach every group)`
    : `cuts ${phase.target ? describeTarget(phase.target) : '?'} off from the other nodes${phase.cut === 'peers-and-clients' ? ' and from every client (the appliance, the load, the monitor)' : ' (clients still reach it)'}`;
  const when = phase.flap
    ? `${phase.flap.times} times, ${formatDuration(phase.flap.on)} cut and ${formatDuration(phase.flap.off)} whole between cuts`
    : `for ${formatDuration(phase.for ?? 0)}`;
  return `${what} ${when}, then heals it; the nodes keep running`;
}

/** `seq 1200`, `50%`, `2025-01-31T12:00:00Z`, or `the end` for a full replay. */
export function describeReplayTo(to: ReplayPhase['to']): string {
  if (to === undefined) return 'the end';
  if ('seq' in to) return `seq ${to.seq}`;
  if ('fraction' in to) return `${Number((to.fraction * 100).toFixed(2))}%`;
  return to.time;
}

/** How long a phase runs, when that follows from the file alone (a load of `count` at `max`, a replay: unknown). */
export function phaseLengthMs(phase: Phase): number | undefined {
  switch (phase.type) {
    case 'load':
      if (phase.duration !== undefined) return phase.duration;
      return phase.count !== undefined && phase.rate !== 'max'
        ? Math.ceil((phase.count / phase.rate) * 1_000)
        : undefined;
    case 'fault':
      if (phase.action === 'kill' || phase.action === 'pause') return phase.for ?? 0;
      if (phase.action === 'partition')
        return phase.flap
          ? phase.flap.times * phase.flap.on + (phase.flap.times - 1) * phase.flap.off
          : (phase.for ?? 0);
      return undefined;
    case 'replay':
      return undefined;
    case 'check':
      return 0;
  }
}

/** A phase placed on the scenario's clock; `exact` is false when an earlier phase of unknown length decides its start. */
export interface TimedPhase {
  phase: Phase;
  /** Start in ms from the scenario's start (a lower bound when not exact). */
  startMs: number;
  lengthMs: number | undefined;
  exact: boolean;
}

/** Every phase with its start: `at` when given, else when every earlier phase has ended. */
export function timeline(scenario: Scenario): TimedPhase[] {
  const timed: TimedPhase[] = [];
  let endMs = 0;
  let endExact = true;
  for (const phase of scenario.phases) {
    const startMs = phase.at ?? endMs;
    const exact: boolean = phase.at !== undefined || endExact;
    const lengthMs = phaseLengthMs(phase);
    timed.push({ phase, startMs, lengthMs, exact });
    endMs = Math.max(endMs, startMs + (lengthMs ?? 0));
    endExact = endExact && exact && lengthMs !== undefined;
  }
  return timed;
}

export interface DurationEstimate {
  /** The expected duration in ms, or a lower bound when `exact` is false. */
  ms: number;
  /** False when a phase's length cannot be known from the file (a `count` at `max`, a replay, a restart). */
  exact: boolean;
}

export function estimateDuration(scenario: Scenario): DurationEstimate {
  let ms = 0;
  let exact = true;
  for (const t of timeline(scenario)) {
    ms = Math.max(ms, t.startMs + (t.lengthMs ?? 0));
    exact = exact && t.exact && t.lengthMs !== undefined;
  }
  return { ms, exact };
}

/** The scenario's expected duration in ms, or undefined when it depends on how fast something runs. */
export function estimatedDurationMs(scenario: Scenario): number | undefined {
  const estimate = estimateDuration(scenario);
  return estimate.exact ? estimate.ms : undefined;
}

function formatEstimate(estimate: DurationEstimate): string {
  if (estimate.exact) return formatDuration(estimate.ms);
  return estimate.ms > 0 ? `≥ ${formatDuration(estimate.ms)}` : 'unknown';
}

function formatRate(rate: LoadPhase['rate']): string {
  return rate === 'max' ? 'max' : `${rate}/s`;
}

/** One phase in a few words: `load 400/s 30s`, `kill the leader of CIM_PERSON`, `replay person_directory to 50%`. */
export function summarizePhase(phase: Phase): string {
  switch (phase.type) {
    case 'load':
      return `load ${formatRate(phase.rate)} ${phase.duration !== undefined ? formatDuration(phase.duration) : `×${phase.count}`}`;
    case 'fault':
      if (phase.split) return `partition ${describeSplit(phase.split)}`;
      return phase.target ? `${phase.action} ${describeTarget(phase.target)}` : phase.action;
    case 'replay':
      return `replay ${phase.projection}${phase.to ? ` to ${describeReplayTo(phase.to)}` : ''}`;
    case 'check':
      return `${phase.expect.length} check${phase.expect.length === 1 ? '' : 's'}`;
  }
}

function table(rows: string[][]): string {
  return alignedTable(
    rows,
    rows[0]!.map(() => 'left'),
  );
}

/** `cim scenario list`: one aligned row per scenario. */
export function renderScenarioList(scenarios: readonly Scenario[]): string {
  if (scenarios.length === 0) return 'no scenarios';
  const rows = [['NAME', 'SUITES', 'NODES', 'DURATION', 'PHASES']];
  for (const s of scenarios) {
    rows.push([
      s.name,
      s.suites.join(',') || '-',
      `${s.cluster.nodes}×R${s.cluster.replicas}`,
      formatEstimate(estimateDuration(s)),
      s.phases.map(summarizePhase).join(' · '),
    ]);
  }
  return table(rows);
}

function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split(/\n\s*\n/)) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(indent + line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    if (line) lines.push(indent + line);
    lines.push('');
  }
  lines.pop();
  return lines;
}

function timing(t: TimedPhase, index: number): string {
  const when =
    t.phase.at !== undefined
      ? `at ${formatDuration(t.phase.at)}`
      : index === 0
        ? 'at the start'
        : `after every earlier phase ended${t.exact || t.startMs > 0 ? ` (${formatEstimate({ ms: t.startMs, exact: t.exact })})` : ''}`;
  const length = t.lengthMs === undefined ? '' : t.lengthMs > 0 ? `, for ${formatDuration(t.lengthMs)}` : '';
  return when + length;
}

function phaseDetails(phase: Phase): string[] {
  switch (phase.type) {
    case 'load': {
      const amount =
        phase.duration !== undefined ? `for ${formatDuration(phase.duration)}` : `${phase.count} operations`;
      const loop = phase.rate === 'max' ? 'as fast as it goes (closed loop)' : `${phase.rate} ops/s (open loop)`;
      const lines = [`driver ${phase.driver}, ${loop}, ${amount}, at most ${phase.concurrency} in flight`];
      if (phase.driver === 'raw') {
        lines.push(`${phase.payloadBytes} bytes per message`);
      } else {
        const total = phase.mix.reduce((sum, m) => sum + m.weight, 0);
        lines.push(`over ${phase.aggregates} aggregates per domain; mix:`);
        const width = Math.max(...phase.mix.map((m) => m.command.length));
        for (const m of phase.mix)
          lines.push(
            `  ${m.command.padEnd(width)}  ${String(m.weight).padStart(3)}  (${Math.round((m.weight / total) * 100)}%)`,
          );
      }
      return lines;
    }
    case 'fault': {
      const target = phase.target ? describeTarget(phase.target) : '';
      const c = phase.corruption;
      switch (phase.action) {
        case 'kill':
          return [
            `SIGKILL ${target}, ${phase.for === undefined ? 'not started again' : `started again after ${formatDuration(phase.for)}`}`,
          ];
        case 'pause':
          return [`SIGSTOP ${target}, SIGCONT after ${formatDuration(phase.for ?? 0)}`];
        case 'restart':
          return [`graceful stop and start of ${target}`];
        case 'corrupt':
          return [
            `stops ${target}, ${c?.mode === 'truncate' ? `cuts ${c.bytes} bytes off` : `flips ${c?.bytes} random bits in`} the last block file of ${c?.stream}, starts it again`,
          ];
        case 'restart-appliance':
          return ['stops and starts the domain services, projections and sealers of the run (NATS keeps running)'];
        case 'partition':
          return [describePartition(phase)];
      }
      break;
    }
    case 'replay':
      return [
        `rebuilds ${phase.projection} from the start of its stream${phase.to ? ` up to ${describeReplayTo(phase.to)} of it` : ''}`,
      ];
    case 'check': {
      const width = Math.max(...phase.expect.map((a) => a.text.length));
      return phase.expect.map(
        (a) => `${a.text.padEnd(width)}  ${METRICS[a.metric]}${a.phase ? ` (phase ${a.phase})` : ''}`,
      );
    }
  }
}

/** `cim scenario show`: the scenario in words. */
export function renderScenario(scenario: Scenario): string {
  const { cluster } = scenario;
  const lines = [scenario.name, ''];
  if (scenario.description) lines.push(...wrap(scenario.description, 96, '  '), '');
  if (scenario.file) lines.push(`  file      ${scenario.file}`);
  lines.push(`  suites    ${scenario.suites.join(', ') || '(none)'}`);
  lines.push(
    `  seed      ${scenario.seed}${(scenario.seeds ?? 1) > 1 ? `; run with ${scenario.seeds} seeds derived from it, each on a fresh cluster (--seeds N overrides)` : ''}`,
  );
  lines.push(
    `  cluster   ${cluster.nodes} node${cluster.nodes === 1 ? '' : 's'}, streams with ${cluster.replicas} replica${cluster.replicas === 1 ? '' : 's'}, sync_interval ${cluster.syncInterval ?? 'server default'}`,
  );
  const estimate = estimateDuration(scenario);
  const open = estimate.exact ? '' : " (a phase's length depends on how fast the appliance runs)";
  lines.push(`  duration  ${formatEstimate(estimate)}${open}`, '', 'phases');
  timeline(scenario).forEach((t, index) => {
    lines.push(`  ${index + 1}. ${t.phase.name} (${t.phase.type}), ${timing(t, index)}`);
    for (const detail of phaseDetails(t.phase)) lines.push(`       ${detail}`);
  });
  return lines.join('\n');
}
