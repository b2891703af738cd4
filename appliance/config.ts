// The appliance configuration: one zod schema, fed from flags, then CIM_* environment variables,
// then a config file (JSON or YAML), then defaults. A bad value is rejected naming its path and
// where it came from, so the user knows which of the three places to fix.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CimError } from './errors.js';

const intAtLeast = (min: number) => {
  const message = `expected integer ≥ ${min}`;
  return z.number({ error: message }).int({ error: message }).min(min, { error: message });
};

const natsUrl = z.string().regex(/^(nats|tls|ws|wss):\/\/[^\s,]+$|^[^\s,:/]+:\d+$/, {
  error: 'expected a NATS URL such as nats://host:4222',
});

const name = z.string().regex(/^[A-Za-z0-9_-]+$/, { error: 'expected letters, digits, "-" or "_"' });

/** nats-server's duration syntax (`2m`, `30s`, `500ms`) or `always` (fsync after every write). */
const syncInterval = z.string().regex(/^(always|\d+(ms|s|m|h))$/, {
  error: 'expected a duration such as "2m", "10s", "100ms", or "always"',
});

/** `HOST:PORT` (an IPv6 host in brackets); port 0 lets the system pick one. */
export const listenAddress = z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):\d{1,5}$/, {
  error: 'expected HOST:PORT, such as 127.0.0.1:8080',
});

/** A span of time such as `30d`, `12h`, `90m`, `45s` or `2w` (weeks); `ms` for tests. */
const DURATION = /^(\d+)(ms|s|m|h|d|w)$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30d` → milliseconds; undefined for text that is not a duration. */
export function durationMs(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * DURATION_MS[match[2]!]!;
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}

const duration = z.string().refine((text) => durationMs(text) !== undefined, {
  error: 'expected a duration such as "30d", "12h", "90m" or "45s" (greater than zero)',
});

/** What retention keeps of one domain: events younger than maxAge, and at most maxEventsPerAggregate per aggregate. */
export const RetentionPolicySchema = z
  .object({
    maxAge: duration.optional(),
    maxEventsPerAggregate: intAtLeast(1).optional(),
  })
  .strict()
  .refine((p) => p.maxAge !== undefined || p.maxEventsPerAggregate !== undefined, {
    error: 'expected maxAge and/or maxEventsPerAggregate',
  });

export type RetentionPolicy = z.infer<typeof RetentionPolicySchema>;

export const ApplianceConfigSchema = z
  .object({
    /** Where everything generated goes: cluster data, ledger, reports. */
    stateDir: z.string().min(1, { error: 'expected a directory path' }).default('.cim'),
    /** The nats-server of the embedded cluster: a supported version (built from Go modules on demand) or a path. */
    natsServer: z.string().min(1, { error: 'expected a version such as 2.15.3 or a path' }).optional(),
    nats: z
      .object({
        /** Attach mode: use this existing cluster instead of the embedded one. */
        urls: z.array(natsUrl).default([]),
        /** NATS credentials file (attach mode): every role connects with it. */
        credsFile: z.string().min(1).optional(),
        /** The per-role nkey seeds and the route secret; default `<stateDir>/nats-users`. */
        usersDir: z.string().min(1, { error: 'expected a directory path' }).optional(),
      })
      .strict()
      .prefault({}),
    cluster: z
      .object({
        name: name.default('cim'),
        nodes: intAtLeast(1).max(15, { error: 'expected at most 15 nodes on one machine' }).default(3),
        /** Interface the embedded servers listen on. */
        host: z.string().min(1).default('127.0.0.1'),
        /** JetStream fsync interval (nats-server ≥ 2.10); unset keeps the server default. */
        syncInterval: syncInterval.optional(),
        /** How long to wait for the cluster to form (meta leader elected, all routes up). */
        startTimeoutMs: intAtLeast(1000).default(30_000),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        /** Where `cim serve` answers HTTP (the gateway); unset: no gateway. */
        listen: listenAddress.optional(),
        /** The API key file (`cim keys add` writes it); default `<stateDir>/api-keys.json`. */
        apiKeysFile: z.string().min(1, { error: 'expected a file path' }).optional(),
        /** Largest request body in bytes. */
        bodyLimitBytes: intAtLeast(1024)
          .max(16 * 1024 * 1024, { error: 'expected at most 16 MiB' })
          .default(65_536),
        rateLimit: z
          .object({
            /** Requests each API key may make per window; 0: no limit. */
            max: intAtLeast(0).default(100),
            /** The window the limit counts over. */
            windowMs: intAtLeast(1).default(1_000),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        /** `HOST:PORT` of a standalone `/metrics` endpoint for an appliance without an HTTP gateway; off unless set. */
        listen: listenAddress.optional(),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        /** `cim serve`'s log lines: `json` (one object per line), `text`, or `auto` (JSON unless stderr is a terminal). */
        format: z.enum(['auto', 'json', 'text'], { error: 'expected auto, json or text' }).default('auto'),
        level: z
          .enum(['debug', 'info', 'warn', 'error'], { error: 'expected debug, info, warn or error' })
          .default('info'),
      })
      .strict()
      .prefault({}),
    privacy: z
      .object({
        /**
         * The directory of the subject key store (default `<stateDir>/privacy`): instances that serve
         * the same cluster from different state dirs must share one (docs/architecture.md#erasure-crypto-shredding).
         */
        keyStoreDir: z.string().min(1, { error: 'expected a directory path' }).optional(),
      })
      .strict()
      .prefault({}),
    domains: z
      .object({
        /** Module paths of users' domain plugins (each exports domains made with defineDomain, or their definitions), served beside the reference domains. */
        plugins: z.array(z.string().min(1, { error: 'expected a module path' })).default([]),
      })
      .strict()
      .prefault({}),
    retention: z
      .object({
        /**
         * Per domain, what is kept (docs/architecture.md#retention-and-legal-holds), e.g.
         * `{ person: { maxAge: "30d" }, workflow: { maxEventsPerAggregate: 1000 } }`; as a flag or
         * CIM_RETENTION_POLICIES, the same as JSON. A domain without a policy keeps everything.
         */
        policies: z
          .record(
            z.string().regex(/^[a-z][a-z0-9_-]*$/, {
              error: 'expected a domain name (lower-case letters, digits, "-" or "_")',
            }),
            RetentionPolicySchema,
            {
              error: (issue) =>
                issue.code === 'invalid_key'
                  ? 'expected a domain name (lower-case letters, digits, "-" or "_")'
                  : 'expected a mapping of domain names to policies',
            },
          )
          .default({}),
        /** How often `cim serve` applies the policies (nothing runs while there are none). */
        applyEvery: duration.default('1h'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ApplianceConfig = z.infer<typeof ApplianceConfigSchema>;

/** A config value keyed by its dotted path, e.g. `{ 'cluster.nodes': '5' }`. */
export type FlatSettings = Record<string, string | string[] | number | boolean | undefined>;

export interface ConfigSources {
  /** Values from command-line flags, by dotted path (highest precedence). */
  flags?: FlatSettings;
  /** The environment to read `CIM_*` variables from. */
  env?: NodeJS.ProcessEnv;
  /** Path of a JSON or YAML config file (lowest precedence before defaults). */
  file?: string | undefined;
}

type LeafKind = 'number' | 'boolean' | 'array' | 'record' | 'string';

/** Every settable leaf of the schema, with its kind, found by walking the schema itself. */
export function configLeaves(): Map<string, LeafKind> {
  const leaves = new Map<string, LeafKind>();
  const walk = (schema: z.core.$ZodType, path: string[]): void => {
    const def = schema._zod.def as {
      type: string;
      innerType?: z.core.$ZodType;
      shape?: Record<string, z.core.$ZodType>;
    };
    if (def.type === 'default' || def.type === 'prefault' || def.type === 'optional') {
      walk(def.innerType!, path);
    } else if (def.type === 'object') {
      for (const [key, child] of Object.entries(def.shape!)) walk(child, [...path, key]);
    } else {
      const kind: LeafKind =
        def.type === 'number' || def.type === 'boolean' || def.type === 'array' || def.type === 'record'
          ? def.type
          : 'string';
      leaves.set(path.join('.'), kind);
    }
  };
  walk(ApplianceConfigSchema, []);
  return leaves;
}

/** `cluster.syncInterval` → `CIM_CLUSTER_SYNC_INTERVAL`. */
export function envVarName(path: string): string {
  return (
    'CIM_' +
    path
      .split('.')
      .map((s) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
      .join('_')
  );
}

/** Flags and environment variables arrive as text; turn them into what the schema expects. */
function coerce(raw: unknown, kind: LeafKind): unknown {
  if (typeof raw !== 'string') return raw;
  const text = raw.trim();
  switch (kind) {
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : raw;
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(text)) return true;
      if (/^(false|0|no|off)$/i.test(text)) return false;
      return raw;
    case 'array':
      return text === '' ? [] : text.split(',').map((s) => s.trim());
    case 'record':
      // A mapping arrives as JSON; text that is not JSON is left for the schema to name.
      if (text === '') return {};
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return raw;
      }
    default:
      return raw;
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CimError(
      'CIM-INVALID-CONFIG',
      `config file ${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      {
        hint: 'Check the path given with --config or CIM_CONFIG.',
      },
    );
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new CimError('CIM-INVALID-CONFIG', `config file ${file}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CimError('CIM-INVALID-CONFIG', `config file ${file}: expected a mapping of settings at the top level`);
  }
  return parsed as Record<string, unknown>;
}

function describeInput(input: unknown): string {
  if (input === undefined) return '';
  const text = JSON.stringify(input);
  return `, got ${text && text.length > 60 ? text.slice(0, 57) + '...' : text}`;
}

/**
 * Builds the configuration from its sources. Throws CIM-INVALID-CONFIG (exit 2) naming every bad
 * field as `path: expectation, got value (from source)`.
 */
export function loadConfig(sources: ConfigSources = {}): ApplianceConfig {
  const env = sources.env ?? process.env;
  const leaves = configLeaves();
  const origin = new Map<string, string>();
  const file = sources.file ?? env.CIM_CONFIG;
  const merged: Record<string, unknown> = file ? readConfigFile(resolve(file)) : {};
  if (file) for (const path of leaves.keys()) origin.set(path, `config file ${file}`);

  for (const [path, kind] of leaves) {
    const value = env[envVarName(path)];
    if (value === undefined) continue;
    setPath(merged, path, coerce(value, kind));
    origin.set(path, `environment ${envVarName(path)}`);
  }
  for (const [path, value] of Object.entries(sources.flags ?? {})) {
    if (value === undefined) continue;
    const kind = leaves.get(path);
    if (!kind) throw new CimError('CIM-INTERNAL', `flag mapped to unknown config path ${path}`);
    setPath(merged, path, coerce(value, kind));
    origin.set(path, 'flag');
  }

  const result = ApplianceConfigSchema.safeParse(merged, { reportInput: true });
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys
        .map((key) => `${path ? path + '.' : ''}${key}: unknown setting${file ? ` (in config file ${file})` : ''}`)
        .join('\n');
    }
    // A record's entries (retention.policies.person.maxAge) came from where the record did.
    const from = [...origin.keys()]
      .filter((leaf) => path === leaf || path.startsWith(leaf + '.'))
      .map((leaf) => origin.get(leaf))[0];
    return `${path}: ${issue.message}${describeInput(issue.input)}${from ? ` (from ${from})` : ''}`;
  });
  throw new CimError('CIM-INVALID-CONFIG', lines.join('\n'), {
    hint: 'Fix the setting named above; `cim --help` lists the flags, each setting also has a CIM_* variable.',
  });
}
