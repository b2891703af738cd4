import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configLeaves, durationMs, envVarName, loadConfig } from '../../appliance/config.js';
import { CimError } from '../../appliance/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'cim-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configError(fn: () => unknown): CimError {
  try {
    fn();
  } catch (error) {
    if (error instanceof CimError) return error;
    throw error;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('given no sources, yields the documented defaults', () => {
    const config = loadConfig({ env: {} });
    expect(config.stateDir).toBe('.cim');
    expect(config.cluster.nodes).toBe(3);
    expect(config.cluster.host).toBe('127.0.0.1');
    expect(config.nats.urls).toEqual([]);
    expect(config.cluster.syncInterval).toBeUndefined();
  });

  it('takes flags over environment over file', () => {
    const file = join(dir, 'precedence.yaml');
    writeFileSync(file, 'cluster:\n  nodes: 5\n  name: fromfile\nstateDir: /from/file\n');
    const env = { CIM_CLUSTER_NODES: '4', CIM_STATE_DIR: '/from/env' };
    const config = loadConfig({ file, env, flags: { 'cluster.nodes': '1' } });
    expect(config.cluster.nodes).toBe(1);
    expect(config.stateDir).toBe('/from/env');
    expect(config.cluster.name).toBe('fromfile');
  });

  it('reads the config file path from CIM_CONFIG and accepts JSON', () => {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ nats: { urls: ['nats://a:4222'] } }));
    expect(loadConfig({ env: { CIM_CONFIG: file } }).nats.urls).toEqual(['nats://a:4222']);
  });

  it('splits comma-separated URL lists from flags and environment', () => {
    const config = loadConfig({ env: { CIM_NATS_URLS: 'nats://a:1, nats://b:2' } });
    expect(config.nats.urls).toEqual(['nats://a:1', 'nats://b:2']);
  });

  it('rejects a non-integer node count naming the path, the value and its source', () => {
    const error = configError(() => loadConfig({ env: {}, flags: { 'cluster.nodes': 'x' } }));
    expect(error.code).toBe('CIM-INVALID-CONFIG');
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe('cluster.nodes: expected integer ≥ 1, got "x" (from flag)');
  });

  it('rejects a zero node count from the environment, naming the variable', () => {
    const error = configError(() => loadConfig({ env: { CIM_CLUSTER_NODES: '0' } }));
    expect(error.message).toBe('cluster.nodes: expected integer ≥ 1, got 0 (from environment CIM_CLUSTER_NODES)');
  });

  it('rejects an unknown setting in a config file', () => {
    const file = join(dir, 'unknown.yaml');
    writeFileSync(file, 'cluster:\n  nodez: 3\n');
    const error = configError(() => loadConfig({ env: {}, file }));
    expect(error.message).toContain('cluster.nodez: unknown setting');
  });

  it('rejects a bad sync interval and a bad URL, each on its own line', () => {
    const error = configError(() =>
      loadConfig({ env: { CIM_CLUSTER_SYNC_INTERVAL: 'soon', CIM_NATS_URLS: 'http://x' } }),
    );
    const lines = error.message.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.some((l) => l.startsWith('cluster.syncInterval: expected a duration'))).toBe(true);
    expect(lines.some((l) => l.startsWith('nats.urls.0: expected a NATS URL'))).toBe(true);
  });

  it('reports a missing config file as a configuration error', () => {
    const error = configError(() => loadConfig({ env: {}, file: join(dir, 'absent.yaml') }));
    expect(error.code).toBe('CIM-INVALID-CONFIG');
    expect(error.message).toMatch(/absent\.yaml: cannot be read \(ENOENT\)/);
  });

  it('reports YAML syntax errors as configuration errors', () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'cluster: [\n');
    expect(configError(() => loadConfig({ env: {}, file })).code).toBe('CIM-INVALID-CONFIG');
  });

  it('names environment variables after the setting path', () => {
    expect(envVarName('cluster.syncInterval')).toBe('CIM_CLUSTER_SYNC_INTERVAL');
    expect(envVarName('stateDir')).toBe('CIM_STATE_DIR');
  });
});

describe('retention policies', () => {
  it('reads policies per domain from a file, and the apply interval', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cim-config-retention-'));
    const file = join(dir, 'retention.yaml');
    writeFileSync(
      file,
      'retention:\n  applyEvery: 10m\n  policies:\n    person: { maxAge: 30d }\n    workflow: { maxEventsPerAggregate: 100, maxAge: 12h }\n',
    );
    const config = loadConfig({ env: {}, file });
    expect(config.retention.applyEvery).toBe('10m');
    expect(config.retention.policies).toEqual({
      person: { maxAge: '30d' },
      workflow: { maxEventsPerAggregate: 100, maxAge: '12h' },
    });
    rmSync(dir, { recursive: true, force: true });
  });

  it('defaults to no policies, applied hourly', () => {
    const config = loadConfig({ env: {} });
    expect(config.retention).toEqual({ policies: {}, applyEvery: '1h' });
  });

  it('takes policies as JSON from the environment and from flags, each with its leaf', () => {
    expect(configLeaves().get('retention.policies')).toBe('record');
    expect(envVarName('retention.policies')).toBe('CIM_RETENTION_POLICIES');
    expect(envVarName('retention.applyEvery')).toBe('CIM_RETENTION_APPLY_EVERY');
    const fromEnv = loadConfig({ env: { CIM_RETENTION_POLICIES: '{"person":{"maxAge":"2d"}}' } });
    expect(fromEnv.retention.policies).toEqual({ person: { maxAge: '2d' } });
    const fromFlag = loadConfig({ env: {}, flags: { 'retention.policies': '{"order":{"maxEventsPerAggregate":5}}' } });
    expect(fromFlag.retention.policies).toEqual({ order: { maxEventsPerAggregate: 5 } });
  });

  it('names what is wrong with a policy, and where it came from', () => {
    const bad = (policies: string) =>
      configError(() => loadConfig({ env: { CIM_RETENTION_POLICIES: policies } })).message;
    expect(bad('{"person":{"maxAge":"soon"}}')).toBe(
      'retention.policies.person.maxAge: expected a duration such as "30d", "12h", "90m" or "45s" (greater than zero), got "soon" (from environment CIM_RETENTION_POLICIES)',
    );
    expect(bad('{"person":{}}')).toMatch(
      /^retention\.policies\.person: expected maxAge and\/or maxEventsPerAggregate.*\(from environment CIM_RETENTION_POLICIES\)$/,
    );
    expect(bad('{"person":{"maxEventsPerAggregate":0}}')).toMatch(
      /^retention\.policies\.person\.maxEventsPerAggregate: expected integer ≥ 1, got 0/,
    );
    expect(bad('{"Person!":{"maxAge":"1d"}}')).toMatch(/^retention\.policies\.Person!: expected a domain name/);
    expect(bad('not json')).toMatch(/^retention\.policies: expected a mapping of domain names to policies/);
    expect(bad('{"person":{"maxAge":"1d","keep":"x"}}')).toContain('retention.policies.person.keep: unknown setting');
    expect(configError(() => loadConfig({ env: { CIM_RETENTION_APPLY_EVERY: '0s' } })).message).toMatch(
      /^retention\.applyEvery: expected a duration/,
    );
  });

  it('reads durations', () => {
    expect(durationMs('30d')).toBe(30 * 86_400_000);
    expect(durationMs('12h')).toBe(12 * 3_600_000);
    expect(durationMs('90m')).toBe(5_400_000);
    expect(durationMs('500ms')).toBe(500);
    expect(durationMs('2w')).toBe(14 * 86_400_000);
    expect(durationMs('0s')).toBeUndefined();
    expect(durationMs('1y')).toBeUndefined();
  });
});
