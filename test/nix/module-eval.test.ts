// The NixOS module (modules/appliance.nix), evaluated for real with nixpkgs' lib.evalModules
// (test/nix/eval-module.nix, which also asserts in Nix), checked against the TypeScript side: its
// NATS config equals what `cim nats-config` prints for the same inputs, nats-server accepts it, and
// the appliance config file it writes passes the appliance's own schema.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  findNatsServer,
  loadConfig,
  serializeServerConfig,
  validateServerConfigFile,
  type NatsServerConfig,
} from '../../appliance/index.js';
import { compareVersions } from '../../appliance/cluster/server-binary.js';
import { CLI_TIMEOUT_MS, runCli } from '../support/cli.js';
import {
  describeNix,
  nixEvalArgs,
  nixEvalJson,
  NIX_TIMEOUT_MS,
  REPO_ROOT,
  runNix,
  unpackNixpkgsLib,
} from '../support/nix.js';
import { tempDir } from '../support/temp-dir.js';

const EVAL = join(REPO_ROOT, 'test', 'nix', 'eval-module.nix');

interface Unit {
  after: string[];
  requires: string[];
  wantedBy: string[];
  environment: Record<string, string>;
  serviceConfig: Record<string, unknown>;
}

interface Machine {
  nats: NatsServerConfig | null;
  natsValidatedAtBuild: boolean;
  settings: Record<string, unknown> | null;
  services: Record<string, Unit>;
  timers: Record<string, { wantedBy: string[]; timerConfig: Record<string, unknown> }>;
  firewall: number[];
  packages: string[];
  users: string[];
  groups: string[];
  failedAssertions: string[];
}

interface Cases {
  one: Machine;
  three: Record<'n1' | 'n2' | 'n3', Machine>;
  sync: Machine;
  attach: Machine;
  disabled: Machine;
  halfTls: Machine;
  removed: Machine;
}

/** Every .nix file of the repository (the parse check), wherever it is. */
function nixFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (['node_modules', 'dist', 'coverage', '.git', '.cim'].includes(entry.name)) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return nixFiles(path);
    return entry.name.endsWith('.nix') ? [path] : [];
  });
}

describeNix('the NixOS module, evaluated with nixpkgs lib', () => {
  // Made in beforeAll, not while collecting: a skipped file leaves nothing behind.
  let dir: ReturnType<typeof tempDir>;
  let libArg: Record<string, string>;
  let tlsDir: string;
  let cases: Cases;

  beforeAll(async () => {
    dir = tempDir('nix-module');
    libArg = { libPath: unpackNixpkgsLib(dir.path) };
    // Real PEM files: nats-server -t loads them.
    tlsDir = join(dir.path, 'tls');
    execFileSync('mkdir', ['-p', tlsDir]);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=cim-test',
        '-addext',
        'subjectAltName=IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3',
        '-keyout',
        join(tlsDir, 'server-key.pem'),
        '-out',
        join(tlsDir, 'server.pem'),
      ],
      { stdio: 'pipe' },
    );
    copyFileSync(join(tlsDir, 'server.pem'), join(tlsDir, 'ca.pem'));
    cases = await nixEvalJson<Cases>(EVAL, 'checks', libArg, { tlsDir });
  }, NIX_TIMEOUT_MS + 30_000); // openssl, then one evaluation
  afterAll(() => dir?.remove());

  it('every .nix file in the repository parses', async () => {
    const files = nixFiles(REPO_ROOT);
    expect(files.map((f) => relative(REPO_ROOT, f))).toEqual(
      expect.arrayContaining(['flake.nix', 'modules/appliance.nix']),
    );
    // All at once (a parse takes milliseconds), so the test's bound is one run's, however many files there are.
    const results = await Promise.all(
      files.map((file) => runNix('nix-instantiate', ['--store', 'dummy://', '--parse', file], { timeoutMs: 30_000 })),
    );
    for (const [i, result] of results.entries()) {
      expect(result.stderr, relative(REPO_ROOT, files[i]!)).toBe('');
      expect(result.code).toBe(0);
    }
  });

  it("given one node, runs a hardened `cim serve` after nixpkgs' nats unit, with a daily report timer", () => {
    const { one } = cases;
    const serve = one.services['cim-appliance']!;
    expect(serve.serviceConfig.ExecStart).toMatch(/\/bin\/cim --config \/nix\/store\/\S+-cim-appliance\.json serve$/);
    expect(serve.serviceConfig).toMatchObject({
      User: 'cim-appliance',
      StateDirectory: 'cim-appliance',
      ProtectSystem: 'strict',
      ProtectHome: true,
      PrivateTmp: true,
      NoNewPrivileges: true,
      CapabilityBoundingSet: '',
      RestrictAddressFamilies: ['AF_INET', 'AF_INET6', 'AF_UNIX'],
    });
    expect(serve.requires).toEqual(['nats.service']);
    expect(serve.after).toContain('nats.service');
    expect(one.timers['cim-appliance-report']).toMatchObject({
      wantedBy: ['timers.target'],
      timerConfig: { OnCalendar: 'daily', Persistent: true },
    });
    expect(one.services['cim-appliance-report']!.serviceConfig.ExecStart).toMatch(/ verify --json$/);
    expect(one.firewall).toEqual([4222]);
    expect(one.users).toEqual(['cim-appliance', 'nats']);
    expect(one.packages).toEqual(['cim-appliance-0.1.0']);
  });

  it('given three machines, each opens client, route and monitor ports and hands secrets over as credentials', () => {
    for (const machine of Object.values(cases.three)) {
      expect(machine.firewall).toEqual([4222, 6222, 8222, 8080]);
      expect(machine.failedAssertions).toEqual([]);
      const serve = machine.services['cim-appliance']!;
      expect(serve.serviceConfig.LoadCredential).toEqual([
        'nats.creds:/run/keys/service.creds',
        'api-keys:/run/keys/api-keys',
        'signing-key:/run/keys/signing.key',
      ]);
      // The key file is the credential; the config file written at build time names the listen address.
      expect(serve.environment).toEqual({
        CIM_HTTP_API_KEYS_FILE: '%d/api-keys',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      });
      expect(machine.settings).toMatchObject({ http: { listen: '0.0.0.0:8080' } });
    }
  });

  it('given three machines, each NATS config equals what `cim nats-config` prints for the same inputs', async () => {
    const hosts = { n1: '127.0.0.1', n2: '127.0.0.2', n3: '127.0.0.3' } as const;
    for (const [name, host] of Object.entries(hosts)) {
      const peers = Object.entries(hosts)
        .filter(([other]) => other !== name)
        .map(([, h]) => `${h}:6222`);
      const printed = await runCli([
        '--state',
        '/var/lib/cim-appliance',
        'nats-config',
        '--server-name',
        name,
        '--host',
        host,
        '--cluster-name',
        'east',
        '--store-dir',
        '/var/lib/nats',
        '--peer',
        peers.join(','),
        '--tls-cert',
        join(tlsDir, 'server.pem'),
        '--tls-key',
        join(tlsDir, 'server-key.pem'),
        '--tls-ca',
        join(tlsDir, 'ca.pem'),
      ]);
      expect(printed.stderr).toBe('');
      expect(cases.three[name as keyof typeof hosts].nats).toEqual(JSON.parse(printed.stdout));
    }
  });

  it("given one node with defaults, and one with a sync interval, the NATS configs equal `cim nats-config`'s", async () => {
    const one = await runCli(['nats-config', '--server-name', 'solo', '--store-dir', '/var/lib/nats']);
    expect(cases.one.nats).toEqual(JSON.parse(one.stdout));
    const sync = await runCli([
      'nats-config',
      '--server-name',
      'sync',
      '--store-dir',
      '/var/lib/cim-nats',
      '--sync-interval',
      'always',
    ]);
    expect(cases.sync.nats).toEqual(JSON.parse(sync.stdout));
    expect(cases.sync.services.nats!.serviceConfig.StateDirectory).toBe('cim-nats');
  });

  it('nats-server -t accepts the configs the module generates, for 1 and 3 nodes', async () => {
    const binary = await findNatsServer();
    const configs = {
      one: cases.one.nats!,
      ...Object.fromEntries(Object.entries(cases.three).map(([n, m]) => [n, m.nats!])),
    };
    for (const [name, config] of Object.entries(configs)) {
      const file = join(dir.path, `${name}.json`);
      writeFileSync(file, serializeServerConfig(config));
      await expect(validateServerConfigFile(binary, file)).resolves.toBeUndefined();
    }
    // sync_interval exists from nats-server 2.10 on; older servers name it as unknown.
    const file = join(dir.path, 'sync.json');
    writeFileSync(file, serializeServerConfig(cases.sync.nats!));
    const outcome = await validateServerConfigFile(binary, file).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    if (compareVersions(binary.version, '2.10.0') >= 0) expect(outcome).toBe('accepted');
    else expect(outcome).toMatch(/sync_interval/);
  });

  it("the appliance config file the module writes passes the appliance's own config schema", () => {
    for (const machine of [cases.one, cases.three.n1, cases.attach]) {
      const file = join(dir.path, 'appliance.json');
      writeFileSync(file, JSON.stringify(machine.settings));
      const config = loadConfig({ file, env: {} });
      expect(config.nats.urls).toEqual((machine.settings!.nats as { urls: string[] }).urls);
    }
    expect(cases.three.n1.settings).toMatchObject({
      nats: { urls: ['nats://127.0.0.1:4222', 'nats://127.0.0.2:4222', 'nats://127.0.0.3:4222'] },
    });
  });

  it('with nats.enable = false, attaches to the given servers and defines no NATS unit or port', () => {
    expect(cases.attach.nats).toBeNull();
    expect(Object.keys(cases.attach.services).sort()).toEqual(['cim-appliance', 'cim-appliance-report']);
    expect(cases.attach.settings).toMatchObject({ nats: { urls: ['nats://10.0.0.9:4222'] } });
    expect(cases.attach.firewall).toEqual([]);
  });

  it('enable = false defines nothing', () => {
    const { disabled } = cases;
    expect(disabled).toEqual({
      nats: null,
      natsValidatedAtBuild: true,
      settings: null,
      services: {},
      timers: {},
      firewall: [],
      packages: [],
      users: [],
      groups: [],
      failedAssertions: [],
    });
  });

  it('retention and roleCredentials, which this version does not implement, fail evaluation with the reason', () => {
    expect([...cases.removed.failedAssertions].sort()).toEqual([
      expect.stringMatching(/retention.*Retention is not implemented in this version/s),
      expect.stringMatching(/roleCredentials.*Per-role NATS credentials are not implemented/s),
    ]);
  });

  it('a certificate without its key fails an assertion', () => {
    expect(cases.halfTls.failedAssertions).toEqual([
      'services.cim-appliance.nats.tls: set certFile and keyFile together.',
    ]);
  });

  it(
    "the README's three-machine deployment evaluates, and each machine's NATS config equals `cim nats-config`'s",
    async () => {
      const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
      const section = readme.slice(readme.indexOf('## Deploy on NixOS'));
      const example = /```nix\n([\s\S]*?)```/.exec(section)?.[1];
      expect(example, 'a nix code block in "Deploy on NixOS"').toBeDefined();
      const exampleDir = join(dir.path, 'deployment');
      mkdirSync(join(exampleDir, 'hardware'), { recursive: true });
      writeFileSync(join(exampleDir, 'flake.nix'), example!);
      const machines = { cim1: '10.0.0.1', cim2: '10.0.0.2', cim3: '10.0.0.3' };
      for (const name of Object.keys(machines)) writeFileSync(join(exampleDir, 'hardware', `${name}.nix`), '{ }\n');
      const evaluated = await nixEvalJson<Record<string, Machine & { loadCredential: string[] }>>(
        join(REPO_ROOT, 'test', 'nix', 'eval-readme.nix'),
        '',
        {
          ...libArg,
          example: join(exampleDir, 'flake.nix'),
        },
      );
      expect(Object.keys(evaluated).sort()).toEqual(Object.keys(machines));
      for (const [name, address] of Object.entries(machines)) {
        const peers = Object.entries(machines)
          .filter(([other]) => other !== name)
          .map(([, a]) => a);
        const printed = await runCli([
          'nats-config',
          '--server-name',
          name,
          '--host',
          address,
          '--peer',
          peers.join(','),
          '--store-dir',
          '/var/lib/nats',
        ]);
        expect(evaluated[name]!.nats).toEqual(JSON.parse(printed.stdout));
        expect(evaluated[name]!.failedAssertions).toEqual([]);
        expect(evaluated[name]!.firewall).toEqual([4222, 6222]);
        expect(evaluated[name]!.loadCredential).toEqual(['signing-key:/run/secrets/cim-signing.key']);
        expect(evaluated[name]!.settings).toMatchObject({
          nats: { urls: [`nats://${address}:4222`, ...peers.map((p) => `nats://${p}:4222`)] },
        });
      }
    },
    NIX_TIMEOUT_MS + 3 * CLI_TIMEOUT_MS + 10_000,
  ); // one evaluation, three CLI runs

  it.each([
    ['wrongPortType', 'services.cim-appliance.nats.listen.port', '16 bit unsigned integer'],
    ['wrongDuration', 'services.cim-appliance.nats.syncInterval', 'string matching the pattern'],
    ['wrongPeer', 'services.cim-appliance.nats.peers', 'submodule'],
    ['wrongListen', 'services.cim-appliance.httpListen', 'string matching'],
    ['wrongOtlp', 'services.cim-appliance.otlpEndpoint', 'string matching'],
  ])(
    'a wrongly typed option is rejected (%s)',
    async (attr, option, type) => {
      const result = await runNix('nix-instantiate', nixEvalArgs(EVAL, attr, libArg, { tlsDir }));
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`option \`${option}`);
      expect(result.stderr).toContain(type);
    },
    NIX_TIMEOUT_MS + 10_000,
  );
});
