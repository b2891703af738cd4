// The scenario file format: defaults, the small parsers (durations, targets, time travel,
// assertions), and the camelCase Scenario a valid file becomes.
import { describe, expect, it } from 'vitest';
import {
  parseAssertion,
  parseDuration,
  parseFaultTarget,
  parseReplayTo,
  parseScenario,
} from '../../scenarios/index.js';

const minimal = `
name: tiny
phases:
  - type: load
    count: 10
    mix:
      - command: person.RenamePerson
`;

describe('scenario defaults', () => {
  it('given a minimal file, then seed, suites, cluster and the load phase are filled in', () => {
    expect(parseScenario(minimal)).toEqual({
      name: 'tiny',
      description: '',
      seed: 1,
      suites: [],
      cluster: { nodes: 3, replicas: 3 },
      phases: [
        {
          name: 'load-1',
          type: 'load',
          driver: 'nats',
          rate: 'max',
          concurrency: 64,
          count: 10,
          mix: [{ command: 'person.RenamePerson', weight: 1 }],
          aggregates: 1000,
        },
      ],
    });
  });

  it('given one node and no replicas, then streams get one replica', () => {
    const s = parseScenario(minimal + 'cluster: { nodes: 1, sync_interval: always }\n');
    expect(s.cluster).toEqual({ nodes: 1, replicas: 1, syncInterval: 'always' });
  });

  it('names unnamed phases <type>-<index>, counting every phase from 1', () => {
    const s = parseScenario(`
name: named
phases:
  - { name: fill, type: load, count: 5, mix: [{ command: person.RegisterPerson }] }
  - { type: fault, action: pause, target: n2 }
  - { type: replay, projection: person_directory }
  - { type: check, expect: ["fill.ops >= 5"] }
`);
    expect(s.phases.map((p) => p.name)).toEqual(['fill', 'fault-2', 'replay-3', 'check-4']);
  });

  it('gives a pause 5 s, a raw load 256-byte payloads and no mix, and leaves a kill without for', () => {
    const s = parseScenario(`
name: faults
phases:
  - { type: load, driver: raw, duration: 1s }
  - { type: fault, action: pause, target: all, at: 0 }
  - { type: fault, action: kill, target: n1 }
  - { type: fault, action: corrupt, target: n3, corruption: { stream: CIM_PERSON, mode: truncate } }
`);
    expect(s.phases[0]).toMatchObject({ driver: 'raw', payloadBytes: 256, mix: [], duration: 1000 });
    expect(s.phases[1]).toEqual({
      name: 'fault-2',
      type: 'fault',
      action: 'pause',
      at: 0,
      target: { all: true },
      for: 5000,
    });
    expect(s.phases[2]).not.toHaveProperty('for');
    expect(s.phases[3]).toMatchObject({ corruption: { stream: 'CIM_PERSON', mode: 'truncate', bytes: 64 } });
  });

  it('keeps the file name when given', () => {
    expect(parseScenario(minimal, { file: 'tiny.yaml' }).file).toBe('tiny.yaml');
  });
});

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['20s', 20_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1.5s', 1_500],
    [250, 250],
    [0, 0],
  ])('reads %j as %i ms', (input, ms) => {
    expect(parseDuration(input)).toEqual({ ok: true, value: ms });
  });

  it.each(['10', '3x', '-1s', 'soon', -5, 1.5, null])('rejects %j', (input) => {
    expect(parseDuration(input)).toMatchObject({ ok: false, message: expect.stringContaining('"500ms"') });
  });
});

describe('fault targets', () => {
  it.each([
    ['n2', { node: 'n2' }],
    ['leader of CIM_PERSON', { leaderOf: 'CIM_PERSON' }],
    ['follower of CIM_ORGANIZATION', { followerOf: 'CIM_ORGANIZATION' }],
    ['all', { all: true }],
  ])('reads %j', (input, target) => {
    expect(parseFaultTarget(input)).toEqual({ ok: true, value: target });
  });

  it.each(['n0', 'node 2', 'leader CIM_PERSON', 'leader of', 'everyone', 3])('rejects %j', (input) => {
    expect(parseFaultTarget(input).ok).toBe(false);
  });
});

describe('time travel (replay to)', () => {
  it.each([
    [1200, { seq: 1200 }],
    ['50%', { fraction: 0.5 }],
    ['100%', { fraction: 1 }],
    ['2025-01-31T12:00:00Z', { time: '2025-01-31T12:00:00Z' }],
    ['2025-01-31T12:00:00.250+01:00', { time: '2025-01-31T12:00:00.250+01:00' }],
  ])('reads %j', (input, to) => {
    expect(parseReplayTo(input)).toEqual({ ok: true, value: to });
  });

  it.each([0, 1.5, '0%', '150%', 'yesterday', '2025-01-31', '2025-13-45T99:00:00Z'])('rejects %j', (input) => {
    expect(parseReplayTo(input).ok).toBe(false);
  });
});

describe('assertions', () => {
  it('reads a scenario-wide assertion', () => {
    expect(parseAssertion('lost == 0')).toEqual({
      ok: true,
      value: { text: 'lost == 0', metric: 'lost', op: '==', value: 0 },
    });
  });

  it('reads a phase-scoped assertion with every operator', () => {
    for (const op of ['<', '<=', '==', '!=', '>=', '>']) {
      expect(parseAssertion(`load-1.p99_ms ${op} 2.5`)).toEqual({
        ok: true,
        value: { text: `load-1.p99_ms ${op} 2.5`, phase: 'load-1', metric: 'p99_ms', op, value: 2.5 },
      });
    }
    expect(parseAssertion('error_rate<0.01')).toMatchObject({
      ok: true,
      value: { metric: 'error_rate', op: '<', value: 0.01 },
    });
  });

  it('names the metrics when the metric is unknown', () => {
    expect(parseAssertion('latency < 5')).toEqual({
      ok: false,
      message: expect.stringMatching(/^unknown metric "latency"; the metrics are lost, unexpected/),
    });
  });

  it.each(['lost = 0', 'lost == zero', 'lost', '== 0', 'Load.lost == 0'])('rejects %j', (input) => {
    expect(parseAssertion(input).ok).toBe(false);
  });
});
