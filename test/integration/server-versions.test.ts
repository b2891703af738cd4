// The pinned nats-server builds and version-aware settings, for real: `go install` from the Go
// module proxy into a cache of the test's own, reused, rebuilt when broken; an unknown version
// refused with the supported list; sync_interval honoured on a server that has it and refused up
// front, naming the version that has it, on one that does not.
import { chmodSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CimError,
  DEFAULT_SERVER_VERSION,
  EmbeddedCluster,
  findGo,
  findNatsServer,
  installServer,
  listServers,
  loadConfig,
  resolveServerVersion,
  SUPPORTED_SERVERS,
} from '../../appliance/index.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/temp-dir.js';

type TempDir = ReturnType<typeof tempDir>;

let cache: TempDir;
let state: TempDir;
const env = () => ({ ...process.env, XDG_CACHE_HOME: cache.path });

beforeAll(() => {
  cache = tempDir('server-cache');
  state = tempDir('server-versions');
});
afterAll(() => {
  cache?.remove();
  state?.remove();
});

describe('the supported versions', () => {
  it('resolve exact versions, lines and "default"; anything else is refused with the list', () => {
    expect(resolveServerVersion('default').version).toBe(DEFAULT_SERVER_VERSION);
    expect(resolveServerVersion('v2.12.1').version).toBe('2.12.1');
    expect(resolveServerVersion('2.14.x').version).toMatch(/^2\.14\.\d+$/);
    expect(resolveServerVersion('2.10').version).toMatch(/^2\.10\.\d+$/);
    const error = (() => {
      try {
        resolveServerVersion('2.11.0');
      } catch (e) {
        return e as CimError;
      }
    })();
    expect(error?.code).toBe('CIM-INVALID-INPUT');
    expect(error?.exitCode).toBe(2);
    for (const s of SUPPORTED_SERVERS) expect(error?.message).toContain(s.version);
  });

  it('`cim servers install` of an unknown version exits 2 with the list and no stack trace', async () => {
    const result = await runCli(['servers', 'install', '3.1.4'], { env: env() });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^cim: error CIM-INVALID-INPUT: nats-server 3\.1\.4 is not a supported version; supported: 2\.15\.\d+, /,
    );
    expect(result.stderr).not.toMatch(/\bat .+\.js:\d+/);
  });
});

describe('the cache of built servers', () => {
  it('builds a missing version once with Go, reuses it, and rebuilds a broken entry', async () => {
    expect(findGo(process.env), 'Go is needed to build pinned servers (/usr/local/go/bin)').toBeDefined();
    const lines: string[] = [];
    const first = await installServer(DEFAULT_SERVER_VERSION, env(), (line) => lines.push(line));
    expect(first).toEqual({
      version: DEFAULT_SERVER_VERSION,
      path: join(cache.path, 'cim', 'nats-server', DEFAULT_SERVER_VERSION, 'nats-server'),
      built: true,
    });
    expect(lines[0]).toMatch(/^building github\.com\/nats-io\/nats-server\/v2@v/);
    const builtAt = statSync(first.path).mtimeMs;

    const second = await installServer(DEFAULT_SERVER_VERSION, env());
    expect(second.built).toBe(false);
    expect(statSync(second.path).mtimeMs).toBe(builtAt);
    expect((await listServers(env())).find((s) => s.version === DEFAULT_SERVER_VERSION)?.path).toBe(first.path);

    writeFileSync(first.path, '#!/bin/sh\necho "not a server"\n');
    chmodSync(first.path, 0o755);
    expect((await listServers(env())).find((s) => s.version === DEFAULT_SERVER_VERSION)?.path).toBeUndefined();
    const third = await installServer(DEFAULT_SERVER_VERSION, env());
    expect(third.built).toBe(true);
    const binary = await findNatsServer({ ...env(), NATS_SERVER_BIN: '' });
    expect(binary).toMatchObject({ path: first.path, version: DEFAULT_SERVER_VERSION, source: 'pinned build' });
    expect(binary.goVersion).toMatch(/^go1\.\d+/);
    expect(binary.oldServerNote).toBeUndefined();
  }, 300_000);

  it('without Go and without a cached build, falls back to nats-server on PATH and says when it is old', async () => {
    const lines: string[] = [];
    const empty = tempDir('server-cache-empty');
    try {
      const system = await findNatsServer(
        { ...process.env, XDG_CACHE_HOME: empty.path, GOROOT: '/nonexistent', NATS_SERVER_BIN: '' },
        { log: (l) => lines.push(l) },
      );
      expect(['Debian package', 'PATH']).toContain(system.source);
      expect(existsSync(join(empty.path, 'cim'))).toBe(false);
      if (system.oldServerNote) expect(lines.join('\n')).toContain('these results are for an old server');
    } finally {
      empty.remove();
    }
  });
});

describe('sync_interval', () => {
  const config = (natsServer: string, dir: string) =>
    loadConfig({
      env: {},
      flags: { stateDir: join(state.path, dir), natsServer, 'cluster.nodes': '1', 'cluster.syncInterval': 'always' },
    });

  it('is honoured by a server that has it', async () => {
    const cluster = await EmbeddedCluster.start(config(DEFAULT_SERVER_VERSION, 'sync-new'), { env: env() });
    try {
      const varz = (await cluster.monitor(cluster.nodeNames[0]!).varz()) as unknown as {
        jetstream?: { config?: { sync_always?: boolean } };
      };
      expect(varz.jetstream?.config?.sync_always).toBe(true);
    } finally {
      await cluster.stop();
    }
  }, 120_000);

  it('is refused before anything starts on a server that lacks it, naming the version that has it', async () => {
    const floor = SUPPORTED_SERVERS.at(-1)!.version;
    const error = await EmbeddedCluster.start(config(floor, 'sync-old'), { env: env() }).catch(
      (e: unknown) => e as CimError,
    );
    expect(error).toBeInstanceOf(CimError);
    expect((error as CimError).code).toBe('CIM-INVALID-CONFIG');
    expect((error as CimError).message).toBe(
      `cluster.syncInterval (always) needs nats-server ≥ 2.10; this cluster runs ${floor}`,
    );
    expect(existsSync(join(state.path, 'sync-old', 'cluster', 'cluster.json'))).toBe(false);
  }, 300_000);
});
