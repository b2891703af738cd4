// The scenario file format: one zod schema of the YAML form (snake_case keys, durations as text)
// that validates every field and turns a valid file into the camelCase `Scenario` of types.ts.
// Line numbers are the loader's concern; this module knows only paths inside the document.
import { z } from 'zod';
import { rfc3339Time } from '../appliance/index.js';
import {
  METRICS,
  type Assertion,
  type ClusterShape,
  type ComparisonOperator,
  type FaultTarget,
  type MetricName,
  type Phase,
  type PhaseType,
  type ReplayPhase,
  type Scenario,
} from './types.js';

/** What the served domains offer; when given to the schema, unknown names are errors that list these. */
export interface KnownNames {
  /** `<domain>.<Command>`, e.g. `person.RenamePerson`. */
  commands: ReadonlySet<string>;
  /** Projection names, e.g. `person_directory`. */
  projections: ReadonlySet<string>;
  /** Stream names fault targets and corruption may name, e.g. `CIM_PERSON`; unchecked when absent. */
  streams?: ReadonlySet<string>;
}

/** A small parser's answer: the value, or what was expected. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(message: string): Parsed<T> => ({ ok: false, message });

const NAME = /^[a-z0-9][a-z0-9-]*$/;
const NAME_MESSAGE = 'expected lower-case letters, digits and "-", starting with a letter or digit';
const STREAM = /^[A-Za-z0-9_-]+$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

const DURATION_MESSAGE = 'expected a duration such as "500ms", "20s", "2m", "1h" (a bare whole number is ms)';

/** A week: longer than any benchmark phase, short enough that a typo of many digits is caught. */
export const MAX_DURATION_MS = 7 * 24 * 3_600_000;

/** `"500ms"`, `"20s"`, `"2m"`, `"1h"`, or a whole number of ms → ms (≥ 0, at most MAX_DURATION_MS). */
export function parseDuration(input: unknown): Parsed<number> {
  let ms: number;
  if (typeof input === 'number') {
    if (!(Number.isSafeInteger(input) && input >= 0)) return fail(DURATION_MESSAGE);
    ms = input;
  } else {
    if (typeof input !== 'string') return fail(DURATION_MESSAGE);
    const match = /^(\d{1,12}(?:\.\d{1,6})?)(ms|s|m|h)$/.exec(input.trim());
    if (!match) return fail(DURATION_MESSAGE);
    ms = Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
  }
  return ms <= MAX_DURATION_MS ? ok(ms) : fail(`expected a duration of at most ${MAX_DURATION_MS / 3_600_000}h`);
}

/** A positive number of operations per second, or `max` (closed loop). */
export function parseRate(input: unknown): Parsed<number | 'max'> {
  if (input === 'max') return ok('max');
  if (typeof input === 'number' && Number.isFinite(input) && input > 0) return ok(input);
  return fail('expected a positive number or "max"');
}

const TARGET_MESSAGE = 'expected a node ("n2"), "leader of STREAM", "follower of STREAM" or "all"';

/** `n2` → `{node}`, `leader of CIM_PERSON` → `{leaderOf}`, `follower of CIM_PERSON` → `{followerOf}`, `all` → `{all: true}`. */
export function parseFaultTarget(input: unknown): Parsed<FaultTarget> {
  if (typeof input !== 'string') return fail(TARGET_MESSAGE);
  const text = input.trim();
  if (text === 'all') return ok({ all: true });
  if (/^n[1-9]\d*$/.test(text)) return ok({ node: text });
  const match = /^(leader|follower)\s+of\s+(\S+)$/.exec(text);
  if (!match) return fail(TARGET_MESSAGE);
  const stream = match[2]!;
  if (!STREAM.test(stream)) return fail(`"${stream}" is not a stream name (letters, digits, "_", "-")`);
  return ok(match[1] === 'leader' ? { leaderOf: stream } : { followerOf: stream });
}

const SPLIT_MESSAGE = 'expected groups of nodes such as [[n1], [n2, n3]]: two or more, each a list of node names';

/** `[[n1], [n2, n3]]`: two or more non-empty groups of node names, no node twice. Whether they cover the cluster is checked over the whole scenario. */
export function parseSplit(input: unknown): Parsed<string[][]> {
  if (!Array.isArray(input) || input.length < 2) return fail(SPLIT_MESSAGE);
  const groups: string[][] = [];
  const seen = new Set<string>();
  for (const group of input) {
    if (!Array.isArray(group) || group.length === 0) return fail(SPLIT_MESSAGE);
    const nodes: string[] = [];
    for (const node of group) {
      if (typeof node !== 'string' || !/^n[1-9]\d*$/.test(node.trim()))
        return fail(`${SPLIT_MESSAGE}; "${String(node)}" is not a node name ("n2")`);
      const name = node.trim();
      if (seen.has(name)) return fail(`node ${name} is in more than one group`);
      seen.add(name);
      nodes.push(name);
    }
    groups.push(nodes);
  }
  return ok(groups);
}

const TO_MESSAGE =
  'expected a stream sequence (1200), a fraction of the stream ("50%") or an RFC 3339 time ("2025-01-31T12:00:00Z")';

/** Time travel: a whole number → `{seq}`, `"50%"` → `{fraction: 0.5}`, an RFC 3339 time → `{time}`. */
export function parseReplayTo(input: unknown): Parsed<NonNullable<ReplayPhase['to']>> {
  if (typeof input === 'number') {
    return Number.isSafeInteger(input) && input >= 1 ? ok({ seq: input }) : fail('expected a stream sequence ≥ 1');
  }
  if (typeof input !== 'string') return fail(TO_MESSAGE);
  const text = input.trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent) {
    const fraction = Number(percent[1]) / 100;
    return fraction > 0 && fraction <= 1
      ? ok({ fraction })
      : fail('expected a fraction of the stream above 0% and at most 100%');
  }
  if (rfc3339Time.test(text) && !Number.isNaN(Date.parse(text))) return ok({ time: text });
  return fail(TO_MESSAGE);
}

const OPERATORS: readonly ComparisonOperator[] = ['<=', '>=', '==', '!=', '<', '>'];
const ASSERTION =
  /^\s*(?:([a-z0-9][a-z0-9-]*)\.)?([A-Za-z0-9_]+)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*$/;
const ASSERTION_MESSAGE = `expected "METRIC OP NUMBER" (OP one of ${OPERATORS.join(' ')}), e.g. "lost == 0" or "load-1.p99_ms < 200"`;

function isMetric(name: string): name is MetricName {
  return Object.hasOwn(METRICS, name);
}

/** `lost == 0`, `p99_ms < 200`, `load-1.ops_per_sec >= 100`. Whether the phase exists is checked over the whole scenario. */
export function parseAssertion(input: unknown): Parsed<Assertion> {
  if (typeof input !== 'string') return fail(ASSERTION_MESSAGE);
  const match = ASSERTION.exec(input);
  if (!match) return fail(ASSERTION_MESSAGE);
  const [, phase, metric, op, value] = match;
  if (!isMetric(metric!)) return fail(`unknown metric "${metric}"; the metrics are ${Object.keys(METRICS).join(', ')}`);
  const assertion: Assertion = { text: input.trim(), metric, op: op as ComparisonOperator, value: Number(value) };
  if (phase !== undefined) assertion.phase = phase;
  return ok(assertion);
}

/** A value read by one of the parsers above, its message the issue when it fails. */
function parsedBy<T>(parse: (input: unknown) => Parsed<T>) {
  return z.unknown().transform((input, ctx): T => {
    const result = parse(input);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.message });
    return z.NEVER;
  });
}

function int(min: number, max = Number.MAX_SAFE_INTEGER) {
  const message =
    max === Number.MAX_SAFE_INTEGER
      ? `expected a whole number ≥ ${min}`
      : `expected a whole number from ${min} to ${max}`;
  return z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message });
}

function text(what: string) {
  return z
    .string({ error: `expected ${what}` })
    .trim()
    .min(1, { error: `expected ${what}` });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.join(', ')}` });
}

/** A strict mapping: an unknown key is an error that lists the keys this mapping takes. */
function mapping<Shape extends z.ZodRawShape>(shape: Shape) {
  const keys = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `this mapping takes ${keys}` : 'expected a mapping of keys to values',
  });
}

function checkKnown(set: ReadonlySet<string> | undefined, what: string, plural: string) {
  return (value: string, ctx: z.core.$RefinementCtx<string>) => {
    if (set && !set.has(value))
      ctx.addIssue({
        code: 'custom',
        message: `unknown ${what} "${value}"; the served ${plural} are ${[...set].sort().join(', ')}`,
      });
  };
}

/** One phase: a mapping whose `type` picks the keys it takes. */
function phaseSchema(known: KnownNames | undefined) {
  const streamName = text('a stream name such as CIM_PERSON')
    .regex(STREAM, { error: 'expected a stream name (letters, digits, "_", "-")' })
    .superRefine(checkKnown(known?.streams, 'stream', 'streams'));

  const phaseBase = {
    name: text('a phase name').regex(NAME, { error: NAME_MESSAGE }).optional(),
    at: parsedBy(parseDuration).optional(),
  };

  const mixEntry = mapping({
    command: text('a command such as person.RenamePerson')
      .regex(/^[a-z][a-z0-9_-]*\.[A-Z][A-Za-z0-9]*$/, { error: 'expected DOMAIN.Command, e.g. person.RenamePerson' })
      .superRefine(checkKnown(known?.commands, 'command', 'commands')),
    weight: z.number({ error: 'expected a weight > 0' }).positive({ error: 'expected a weight > 0' }).default(1),
  });

  const load = mapping({
    ...phaseBase,
    type: z.literal('load'),
    driver: oneOf(['nats', 'http', 'raw']).default('nats'),
    rate: parsedBy(parseRate).optional(),
    concurrency: int(1).default(64),
    duration: parsedBy(parseDuration)
      .refine((ms) => ms > 0, { error: 'expected a duration above 0' })
      .optional(),
    count: int(1).optional(),
    mix: z
      .array(mixEntry, { error: 'expected a list of {command, weight}' })
      .min(1, { error: 'expected at least one command' })
      .optional(),
    aggregates: int(1).default(1000),
    payload_bytes: int(1).optional(),
  }).superRefine(
    (phase, ctx) => {
      const both = phase.duration !== undefined && phase.count !== undefined;
      if (both) ctx.addIssue({ code: 'custom', path: ['count'], message: 'give either duration or count, not both' });
      if (phase.duration === undefined && phase.count === undefined) {
        ctx.addIssue({ code: 'custom', path: [], message: 'a load phase needs duration (e.g. "30s") or count' });
      }
      if (phase.driver === 'raw') {
        if (phase.mix !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['mix'],
            message: 'driver raw publishes plain messages and takes no mix',
          });
      } else {
        if (phase.mix === undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['mix'],
            message: `missing: driver ${phase.driver} needs a mix of commands`,
          });
        if (phase.payload_bytes !== undefined)
          ctx.addIssue({ code: 'custom', path: ['payload_bytes'], message: 'payload_bytes is for driver raw only' });
      }
    },
    { when: (payload) => isRecord(payload.value) },
  );

  const fault = mapping({
    ...phaseBase,
    type: z.literal('fault'),
    action: oneOf(['kill', 'pause', 'restart', 'corrupt', 'restart-appliance', 'partition']),
    target: parsedBy(parseFaultTarget).optional(),
    for: parsedBy(parseDuration).optional(),
    corruption: mapping({
      stream: streamName,
      mode: oneOf(['flip-bits', 'truncate']),
      bytes: int(1).default(64),
    }).optional(),
    cut: oneOf(['peers', 'peers-and-clients']).optional(),
    split: parsedBy(parseSplit).optional(),
    flap: mapping({
      times: int(1, 100),
      on: parsedBy(parseDuration).refine((ms) => ms > 0, { error: 'expected a duration above 0' }),
      off: parsedBy(parseDuration).refine((ms) => ms > 0, { error: 'expected a duration above 0' }),
    }).optional(),
  }).superRefine(
    (phase, ctx) => {
      const action = phase.action as string | undefined;
      if (action === undefined) return;
      if (action === 'partition') {
        checkPartition(phase, ctx);
      } else {
        for (const key of ['cut', 'split', 'flap'] as const)
          if (phase[key] !== undefined)
            ctx.addIssue({ code: 'custom', path: [key], message: `${key} is for action partition only` });
      }
      if (action === 'restart-appliance') {
        if (phase.target !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['target'],
            message: 'restart-appliance restarts the appliance, not a node: remove target',
          });
      } else if (phase.target === undefined && action !== 'partition') {
        ctx.addIssue({
          code: 'custom',
          path: ['target'],
          message: `missing: ${action} needs a target (${TARGET_MESSAGE.replace('expected ', '')})`,
        });
      }
      if (phase.for !== undefined && action !== 'kill' && action !== 'pause' && action !== 'partition') {
        ctx.addIssue({
          code: 'custom',
          path: ['for'],
          message: `for is for kill, pause and partition only; ${action} has no duration`,
        });
      }
      if (action === 'corrupt') {
        if (phase.corruption === undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['corruption'],
            message: 'missing: corrupt needs corruption {stream, mode, bytes}',
          });
        const target: unknown = phase.target;
        if (isRecord(target) && !('followerOf' in target) && !('node' in target)) {
          ctx.addIssue({
            code: 'custom',
            path: ['target'],
            message: 'corrupt damages one replica: expected "follower of STREAM" or a node ("n2")',
          });
        }
      } else if (phase.corruption !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['corruption'], message: 'corruption is for action corrupt only' });
      }
    },
    { when: (payload) => isRecord(payload.value) },
  );

  const replay = mapping({
    ...phaseBase,
    type: z.literal('replay'),
    projection: text('a projection name such as person_directory').superRefine(
      checkKnown(known?.projections, 'projection', 'projections'),
    ),
    to: parsedBy(parseReplayTo).optional(),
  });

  const check = mapping({
    ...phaseBase,
    type: z.literal('check'),
    expect: z
      .array(parsedBy(parseAssertion), { error: 'expected a list of assertions such as "lost == 0"' })
      .min(1, { error: 'expected at least one assertion such as "lost == 0"' }),
  });

  return z.discriminatedUnion('type', [load, fault, replay, check], {
    error: (issue) =>
      issue.code === 'invalid_union' ? 'expected type load, fault, replay or check' : 'expected a phase mapping',
  });
}

type ParsedPhase = z.output<ReturnType<typeof phaseSchema>>;

/** A partition cuts off its target, or splits the cluster into groups: one of the two; a flap replaces `for`. */
function checkPartition(
  phase: { target?: unknown; split?: unknown; cut?: unknown; flap?: unknown; for?: unknown },
  ctx: z.core.$RefinementCtx<unknown>,
): void {
  if (phase.target === undefined && phase.split === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['target'],
      message: `missing: partition needs a target (${TARGET_MESSAGE.replace('expected ', '').replace(' or "all"', '')}) or a split ([[n1], [n2, n3]])`,
    });
  }
  if (phase.target !== undefined && phase.split !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['split'],
      message: 'a partition cuts off its target or splits the cluster into groups, not both: remove target or split',
    });
  }
  if (isRecord(phase.target) && 'all' in phase.target) {
    ctx.addIssue({
      code: 'custom',
      path: ['target'],
      message:
        'a partition cuts one node off from the others: expected a node ("n2"), "leader of STREAM" or "follower of STREAM"; to cut the cluster into groups use split',
    });
  }
  if (phase.split !== undefined && phase.cut !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['cut'],
      message: 'cut is for a partition with a target; a split cuts between its groups only, clients reach every group',
    });
  }
  if (phase.flap !== undefined && phase.for !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['for'],
      message: 'a flapping partition lasts as its flap says (times, on, off): remove for',
    });
  }
}

const SYNC_MESSAGE = 'expected a duration such as "2m", "10s", "100ms", or "always"';

/** The schema of one scenario file; `known` adds the checks against the served domains. */
export function scenarioFileSchema(known?: KnownNames) {
  const cluster = mapping({
    nodes: int(1, 7).default(3),
    replicas: int(1, 7).optional(),
    sync_interval: z
      .string({ error: SYNC_MESSAGE })
      .regex(/^(always|\d+(ms|s|m|h))$/, { error: SYNC_MESSAGE })
      .optional(),
  })
    .superRefine((shape, ctx) => {
      if (shape.replicas !== undefined && shape.replicas > shape.nodes) {
        ctx.addIssue({
          code: 'custom',
          path: ['replicas'],
          message: `expected at most ${shape.nodes} replicas (one per node)`,
        });
      }
    })
    .transform((shape): ClusterShape => {
      const out: ClusterShape = { nodes: shape.nodes, replicas: shape.replicas ?? Math.min(3, shape.nodes) };
      if (shape.sync_interval !== undefined) out.syncInterval = shape.sync_interval;
      return out;
    });

  return mapping({
    name: text('a scenario name').regex(NAME, { error: NAME_MESSAGE }),
    description: z.string({ error: 'expected text' }).default(''),
    seed: int(0).default(1),
    seeds: int(1, 1000).optional(),
    suites: z
      .array(text('a suite name').regex(NAME, { error: NAME_MESSAGE }), { error: 'expected a list of suite names' })
      .default([]),
    cluster: cluster.prefault({}),
    phases: z
      .array(phaseSchema(known), { error: 'expected a list of phases' })
      .min(1, { error: 'expected at least one phase' }),
  })
    .superRefine(checkAcrossPhases, { when: (payload) => isRecord(payload.value) })
    .transform((file): Scenario => ({
      name: file.name,
      description: file.description.trim(),
      seed: file.seed,
      ...(file.seeds !== undefined ? { seeds: file.seeds } : {}),
      suites: file.suites,
      cluster: file.cluster,
      phases: file.phases.map((phase, index) => toPhase(phase, index)),
    }));
}

/** The schema without the checks against served domains. */
export const ScenarioFileSchema = scenarioFileSchema();

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const PHASE_TYPES: readonly PhaseType[] = ['load', 'fault', 'replay', 'check'];

/** `<type>-<index>` (index from 1) when the file names no phase. */
export function defaultPhaseName(type: string, index: number): string {
  return `${type}-${index + 1}`;
}

/**
 * Rules over the whole file: unique phase names, assertions naming existing phases, fault targets
 * within the cluster. Runs even when other fields are invalid (so every issue is reported at once),
 * hence it reads the partly parsed value defensively.
 */
function checkAcrossPhases(value: unknown, ctx: z.core.$RefinementCtx<unknown>): void {
  if (!isRecord(value) || !Array.isArray(value.phases)) return;
  const firstIndex = new Map<string, number>();
  value.phases.forEach((phase: unknown, index) => {
    if (!isRecord(phase) || !PHASE_TYPES.includes(phase.type as PhaseType)) return;
    const explicit = typeof phase.name === 'string';
    const name = explicit ? (phase.name as string) : defaultPhaseName(phase.type as PhaseType, index);
    const earlier = firstIndex.get(name);
    if (earlier === undefined) firstIndex.set(name, index);
    else
      ctx.addIssue({
        code: 'custom',
        path: explicit ? ['phases', index, 'name'] : ['phases', index],
        message: `phase name "${name}" is already used by phases[${earlier}]`,
      });
  });

  const cluster = isRecord(value.cluster) ? value.cluster : {};
  const nodes = typeof cluster.nodes === 'number' ? cluster.nodes : undefined;
  const replicas = typeof cluster.replicas === 'number' ? cluster.replicas : undefined;
  // Partitions need the size even when the file leaves it at the default.
  const size = nodes ?? (cluster.nodes === undefined ? 3 : undefined);
  value.phases.forEach((phase: unknown, index) => {
    if (!isRecord(phase)) return;
    const target = phase.target;
    if (isRecord(target) && typeof target.node === 'string' && nodes !== undefined) {
      const n = Number(target.node.slice(1));
      if (n > nodes)
        ctx.addIssue({
          code: 'custom',
          path: ['phases', index, 'target'],
          message: `node ${target.node} is not in the cluster; its nodes are n1…n${nodes}`,
        });
    }
    if (phase.action === 'partition' && size !== undefined && size < 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['phases', index, 'action'],
        message: `a partition needs at least 2 nodes; the cluster has ${size}`,
      });
    }
    if (Array.isArray(phase.split) && size !== undefined && phase.split.every(Array.isArray)) {
      const listed = (phase.split as unknown[][])
        .flat()
        .filter((n): n is string => typeof n === 'string')
        .map((n) => n.trim());
      const all = Array.from({ length: size }, (_, i) => `n${i + 1}`);
      const outside = listed.filter((n) => !all.includes(n));
      const left = all.filter((n) => !listed.includes(n));
      if (outside.length > 0)
        ctx.addIssue({
          code: 'custom',
          path: ['phases', index, 'split'],
          message: `${outside.join(', ')} ${outside.length === 1 ? 'is' : 'are'} not in the cluster; its nodes are n1…n${size}`,
        });
      else if (left.length > 0)
        ctx.addIssue({
          code: 'custom',
          path: ['phases', index, 'split'],
          message: `every node goes into one group; ${left.join(', ')} ${left.length === 1 ? 'is' : 'are'} in none`,
        });
    }
    if (isRecord(target) && 'followerOf' in target && replicas !== undefined && replicas < 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['phases', index, 'target'],
        message: `streams have ${replicas} replica, so there is no follower; use replicas ≥ 2`,
      });
    }
    if (Array.isArray(phase.expect)) {
      phase.expect.forEach((assertion: unknown, i) => {
        if (!isRecord(assertion) || typeof assertion.phase !== 'string' || firstIndex.has(assertion.phase)) return;
        const names = [...firstIndex.keys()].join(', ');
        ctx.addIssue({
          code: 'custom',
          path: ['phases', index, 'expect', i],
          message: `no phase is named "${assertion.phase}"; the phases are ${names}`,
        });
      });
    }
  });
}

function toPhase(phase: ParsedPhase, index: number): Phase {
  const name = phase.name ?? defaultPhaseName(phase.type, index);
  const timing = phase.at === undefined ? {} : { at: phase.at };
  switch (phase.type) {
    case 'load': {
      const out: Phase = {
        name,
        ...timing,
        type: 'load',
        driver: phase.driver,
        rate: phase.rate ?? 'max',
        concurrency: phase.concurrency,
        mix: (phase.mix ?? []).map((m) => ({ command: m.command, weight: m.weight })),
        aggregates: phase.aggregates,
      };
      if (phase.duration !== undefined) out.duration = phase.duration;
      if (phase.count !== undefined) out.count = phase.count;
      if (phase.driver === 'raw') out.payloadBytes = phase.payload_bytes ?? 256;
      return out;
    }
    case 'fault': {
      const out: Phase = { name, ...timing, type: 'fault', action: phase.action };
      if (phase.target !== undefined) out.target = phase.target;
      const defaultFor =
        phase.action === 'pause' ? 5_000 : phase.action === 'partition' && !phase.flap ? 10_000 : undefined;
      const lasts = phase.for ?? defaultFor;
      if (lasts !== undefined) out.for = lasts;
      if (phase.corruption !== undefined) out.corruption = { ...phase.corruption };
      if (phase.action === 'partition') {
        if (phase.split !== undefined) out.split = phase.split;
        else out.cut = phase.cut ?? 'peers';
        if (phase.flap !== undefined) out.flap = { ...phase.flap };
      }
      return out;
    }
    case 'replay': {
      const out: Phase = { name, ...timing, type: 'replay', projection: phase.projection };
      if (phase.to !== undefined) out.to = phase.to;
      return out;
    }
    case 'check':
      return { name, ...timing, type: 'check', expect: phase.expect };
  }
}
