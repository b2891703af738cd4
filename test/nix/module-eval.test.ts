// The NixOS module (modules/appliance.nix), evaluated for real with nixpkgs' lib.evalModules
// (test/nix/eval-module.nix, which also asserts in Nix), checked against the TypeScript side: its
// NATS config equals what `cim nats-config` and renderServerConfig give for the same inputs (users
// and permissions per role included, a cluster member's after its start script has put the route
// password in), nats-server accepts it, and the appliance config file it writes passes the
// appliance's own schema.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  findNatsServer,
  listServers,
  loadConfig,
  NATS_ROLES,
  NatsUsers,
  renderServerConfig,
  serializeServerConfig,
  validateServerConfigFile,
  type NatsServerBinary,
  type NatsServerConfig,
  type ServerConfigInput,
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
  /** What the NATS unit runs before each start to write its config with the route password. */
  runtimeConfigScript: string | null;
}

interface Cases {
  one: Machine;
  three: Record<'n1' | 'n2' | 'n3', Machine>;
  sync: Machine;
  attach: Machine;
  disabled: Machine;
  halfTls: Machine;
  retained: Machine;
  // The failed assertions' messages of machines whose settings contradict each other.
  noRoutePassword: string[];
  missingKeys: string[];
  missingSeeds: string[];
  emptyPolicy: string[];
  retentionWithoutSeed: string[];
  credsWithLocalNode: string[];
  bothCredentials: string[];
  monitorOnLoopback: string[];
}

const HOSTS = { n1: '127.0.0.1', n2: '127.0.0.2', n3: '127.0.0.3' } as const;

// Where fake-pkgs.nix puts what the start script runs; the test runs the real jq and template instead.
const FAKE_JQ = '/nix/store/00000000000000000000000000000000-jq/bin/jq';
const FAKE_TEMPLATE = '/nix/store/00000000000000000000000000000000-nats-template.json';

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
  // The state dir `cim nats-config` runs with: its users dir holds the seeds and route secret, and
  // the test machines' nodes know its role users (real keys, so nats-server checks them).
  let cliState: string;
  let stateUsers: NatsUsers;
  let users: Array<{ role: (typeof NATS_ROLES)[number]; nkey: string }>;
  const natsConfig = async (args: string[]): Promise<NatsServerConfig> => {
    const printed = await runCli(['--state', cliState, 'nats-config', ...args]);
    expect(printed.stderr).toBe('');
    return JSON.parse(printed.stdout) as NatsServerConfig;
  };

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
    cliState = join(dir.path, 'cli-state');
    stateUsers = NatsUsers.ensure(join(cliState, 'nats-users'));
    users = NATS_ROLES.map((role) => ({ role, nkey: stateUsers.publicKey(role) }));
    cases = await nixEvalJson<Cases>(EVAL, 'checks', libArg, {
      tlsDir,
      publicKeys: JSON.stringify(Object.fromEntries(users.map((u) => [u.role, u.nkey]))),
    });
  }, NIX_TIMEOUT_MS + 30_000); // openssl, then one evaluation
  afterAll(() => dir?.remove());

  /** A cluster member's inputs to renderServerConfig, as the test machines set them (eval-module.nix). */
  const memberInput = (name: keyof typeof HOSTS, password: string): ServerConfigInput => ({
    clusterName: 'east',
    node: {
      name,
      host: HOSTS[name],
      clientPort: 4222,
      clusterPort: 6222,
      monitorPort: 8222,
      storeDir: '/var/lib/nats',
    },
    peers: Object.entries(HOSTS)
      .filter(([other]) => other !== name)
      .map(([, host]) => ({ host, clusterPort: 6222 })),
    tls: {
      certFile: join(tlsDir, 'server.pem'),
      keyFile: join(tlsDir, 'server-key.pem'),
      caFile: join(tlsDir, 'ca.pem'),
    },
    authorization: { users, route: { user: 'cim-route', password } },
    monitorHost: '0.0.0.0',
  });

  /**
   * Runs a machine's NATS start script as systemd would: the route password in the credentials
   * directory, the config written into the runtime directory. Returns what it wrote.
   */
  const runStartScript = (name: string, machine: Machine, password: string) => {
    const base = join(dir.path, `start-${name}-${Math.random().toString(36).slice(2)}`);
    const credentials = join(base, 'credentials');
    const runtime = join(base, 'run');
    mkdirSync(credentials, { recursive: true });
    mkdirSync(runtime);
    writeFileSync(join(credentials, 'route-password'), password);
    writeFileSync(join(base, 'template.json'), JSON.stringify(machine.nats));
    const script = machine
      .runtimeConfigScript!.replace(FAKE_JQ, 'jq')
      .replace(FAKE_TEMPLATE, join(base, 'template.json'));
    expect(script).not.toContain('/nix/store');
    const result = spawnSync('bash', ['-c', script], {
      env: { ...process.env, CREDENTIALS_DIRECTORY: credentials, RUNTIME_DIRECTORY: runtime },
      encoding: 'utf8',
    });
    const file = join(runtime, 'nats.conf');
    return { status: result.status, stderr: result.stderr, file };
  };

  /** nats-server on PATH and every pinned release in the cache. */
  const servers = async (): Promise<NatsServerBinary[]> => {
    const binaries: NatsServerBinary[] = [await findNatsServer()];
    for (const cached of await listServers(process.env)) {
      if (cached.path) binaries.push({ path: cached.path, version: cached.version, source: 'path given' });
    }
    return binaries;
  };

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
    // cim serve exits 143 after a clean shutdown on SIGTERM, which systemd would count as a failure.
    expect(serve.serviceConfig.SuccessExitStatus).toEqual([143]);
    expect(serve.requires).toEqual(['nats.service']);
    expect(serve.after).toContain('nats.service');
    expect(one.timers['cim-appliance-report']).toMatchObject({
      wantedBy: ['timers.target'],
      timerConfig: { OnCalendar: 'daily', Persistent: true },
    });
    expect(one.services['cim-appliance-report']!.serviceConfig.ExecStart).toMatch(/ comply$/);
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
        'auditor.nk:/run/keys/auditor.nk',
        'gateway.nk:/run/keys/gateway.nk',
        'loadgen.nk:/run/keys/loadgen.nk',
        'operator.nk:/run/keys/operator.nk',
        'retention.nk:/run/keys/retention.nk',
        'service.nk:/run/keys/service.nk',
        'api-keys:/run/keys/api-keys',
        'signing-key:/run/keys/signing.key',
      ]);
      // Each verb connects as its role with the seed in the credentials directory, not with --creds.
      expect(serve.serviceConfig.ExecStart).toMatch(/-cim-appliance\.json serve$/);
      // The key file is the credential; the config file written at build time names the listen address.
      expect(serve.environment).toEqual({
        CIM_HTTP_API_KEYS_FILE: '%d/api-keys',
        CIM_NATS_USERS_DIR: '%d',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      });
      expect(machine.settings).toMatchObject({ http: { listen: '0.0.0.0:8080' } });
      // The NATS unit gets the route password as a credential of its own and writes its config at start.
      const nats = machine.services.nats!.serviceConfig;
      expect(nats).toMatchObject({
        LoadCredential: ['route-password:/run/keys/route-password'],
        RuntimeDirectory: 'nats',
        RuntimeDirectoryMode: '0700',
        ExecStart: expect.stringMatching(/\/bin\/nats-server -c %t\/nats\/nats\.conf$/),
        ExecStartPre: expect.stringMatching(/^\/nix\/store\/\S+-nats-runtime-config$/),
      });
    }
  });

  it('given three machines, the config in the store has a placeholder where the route password goes, nothing secret', () => {
    for (const [name, machine] of Object.entries(cases.three)) {
      const placeholder = machine.nats!.cluster!.authorization!.password;
      expect(placeholder).toMatch(/^[A-Z_]+$/);
      expect(machine.nats).toEqual(renderServerConfig(memberInput(name as keyof typeof HOSTS, placeholder)));
    }
  });

  it('given three machines, each start script writes a config (mode 0600) equal to renderServerConfig with the route password', () => {
    // Characters a URL must escape, the ones encodeURIComponent leaves alone, and the file's newline.
    const password = "p@ss w:rd/?#%+!*()~'";
    for (const [name, machine] of Object.entries(cases.three)) {
      const run = runStartScript(name, machine, `${password}\n`);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(statSync(run.file).mode & 0o777).toBe(0o600);
      const written = JSON.parse(readFileSync(run.file, 'utf8')) as NatsServerConfig;
      expect(written).toEqual(renderServerConfig(memberInput(name as keyof typeof HOSTS, password)));
      expect(written.cluster!.routes[0]).toContain(`cim-route:${encodeURIComponent(password)}@`);
    }
  });

  it('a start script given an empty route password writes no config and fails, saying why', () => {
    const run = runStartScript('empty', cases.three.n1, ' \n');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('the route password credential is empty');
  });

  it('given three machines, each NATS config, route password put in, equals what `cim nats-config` prints for the same inputs', async () => {
    for (const [name, host] of Object.entries(HOSTS)) {
      const peers = Object.entries(HOSTS)
        .filter(([other]) => other !== name)
        .map(([, h]) => `${h}:6222`);
      const printed = await natsConfig([
        '--server-name',
        name,
        '--host',
        host,
        '--monitor-host',
        '0.0.0.0',
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
      // The route secret as a secrets tool would hand it over: the users dir's file.
      const password = readFileSync(join(cliState, 'nats-users', 'route.secret'), 'utf8');
      const run = runStartScript(name, cases.three[name as keyof typeof HOSTS], password);
      expect(run.status).toBe(0);
      expect(JSON.parse(readFileSync(run.file, 'utf8'))).toEqual(printed);
    }
  });

  it("given one node with defaults, and one with a sync interval, the NATS configs equal `cim nats-config`'s and renderServerConfig's", async () => {
    expect(cases.one.nats).toEqual(await natsConfig(['--server-name', 'solo', '--store-dir', '/var/lib/nats']));
    expect(cases.sync.nats).toEqual(
      await natsConfig(['--server-name', 'sync', '--store-dir', '/var/lib/cim-nats', '--sync-interval', 'always']),
    );
    const single = (name: string, storeDir: string): ServerConfigInput => ({
      clusterName: 'cim',
      node: { name, host: '127.0.0.1', clientPort: 4222, clusterPort: 6222, monitorPort: 8222, storeDir },
      peers: [],
      authorization: { users },
    });
    expect(cases.one.nats).toEqual(renderServerConfig(single('solo', '/var/lib/nats')));
    expect(cases.sync.nats).toEqual(
      renderServerConfig({ ...single('sync', '/var/lib/cim-nats'), syncInterval: 'always' }),
    );
    expect(cases.sync.services.nats!.serviceConfig.StateDirectory).toBe('cim-nats');
    // A single node names no secret: nixpkgs' own config file and unit start it.
    expect(cases.one.runtimeConfigScript).toBeNull();
    expect(cases.one.services.nats!.serviceConfig).not.toHaveProperty('LoadCredential');
  });

  it('nats-server -t accepts the configs the module generates, for 1 and 3 nodes (route password put in), on every pinned server', async () => {
    const configs: Record<string, string> = {};
    const one = join(dir.path, 'one.json');
    writeFileSync(one, serializeServerConfig(cases.one.nats!));
    configs.one = one;
    for (const [name, machine] of Object.entries(cases.three)) {
      const run = runStartScript(name, machine, 'c0ffee\n');
      expect(run.status).toBe(0);
      configs[name] = run.file;
    }
    for (const binary of await servers()) {
      for (const [name, file] of Object.entries(configs)) {
        await expect(validateServerConfigFile(binary, file), `${binary.version} ${name}`).resolves.toBeUndefined();
      }
      // sync_interval exists from nats-server 2.10 on; older servers name it as unknown.
      const file = join(dir.path, 'sync.json');
      writeFileSync(file, serializeServerConfig(cases.sync.nats!));
      const outcome = await validateServerConfigFile(binary, file).then(
        () => 'accepted',
        (e: Error) => e.message,
      );
      if (compareVersions(binary.version, '2.10.0') >= 0) expect(outcome, binary.version).toBe('accepted');
      else expect(outcome).toMatch(/sync_interval/);
    }
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
      runtimeConfigScript: null,
    });
  });

  it('retention policies reach the config file, which the appliance reads as such; cim serve then needs the retention seed', () => {
    expect(cases.retained.failedAssertions).toEqual([]);
    const file = join(dir.path, 'retained.json');
    writeFileSync(file, JSON.stringify(cases.retained.settings));
    const config = loadConfig({ file, env: {} });
    expect(config.retention).toEqual({
      policies: { person: { maxAge: '365d' }, workflow: { maxEventsPerAggregate: 1000 } },
      applyEvery: '30m',
    });
    expect(cases.retained.services['cim-appliance']!.serviceConfig.LoadCredential).toContain(
      'retention.nk:/run/keys/retention.nk',
    );
  });

  it.each([
    [
      'noRoutePassword',
      'services.cim-appliance.nats.routePasswordFile: a cluster member (nats.peers is set) needs the password its routes authenticate with.',
    ],
    [
      'missingKeys',
      'services.cim-appliance.nats.users: the NATS node refuses connections without credentials, so every role needs a user; set publicKey for loadgen, auditor.',
    ],
    [
      'missingSeeds',
      "services.cim-appliance.roleCredentials: the appliance's units connect as operator, service, gateway, auditor, loadgen, retention; set the seed of operator, gateway, auditor, loadgen, retention.",
    ],
    [
      'credsWithLocalNode',
      'services.cim-appliance.nats.credentialsFile is for a cluster of its own accounts (nats.enable = false); the local node knows the users of nats.users: give their seeds in roleCredentials.',
    ],
    [
      'bothCredentials',
      'services.cim-appliance: set nats.credentialsFile (one identity for every role) or roleCredentials (a seed per role), not both.',
    ],
    ['emptyPolicy', 'services.cim-appliance.retention.policies: person: set maxAge and/or maxEventsPerAggregate.'],
    [
      'retentionWithoutSeed',
      "services.cim-appliance.roleCredentials: the appliance's units connect as operator, service, auditor, retention; set the seed of retention.",
    ],
    [
      'monitorOnLoopback',
      'services.cim-appliance.nats.openMonitorPort opens a port nothing listens on: the monitoring port is on loopback (nats.monitorHost = "127.0.0.1").',
    ],
  ] as const)('settings that contradict each other fail an assertion that says so (%s)', (name, message) => {
    expect(cases[name]).toEqual([message]);
  });

  it("the VM test's public keys are those of its seeds", () => {
    const vmUsers = NatsUsers.find(join(REPO_ROOT, 'nix', 'vm-test-users'))!;
    const keys = JSON.parse(
      readFileSync(join(REPO_ROOT, 'nix', 'vm-test-users', 'public-keys.json'), 'utf8'),
    ) as Record<string, string>;
    expect(keys).toEqual(Object.fromEntries(NATS_ROLES.map((role) => [role, vmUsers.publicKey(role)])));
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
      // The example's public keys, replaced by those of the users dir `cim nats-config` reads.
      let withKeys = example!;
      for (const { role, nkey } of users) {
        withKeys = withKeys.replace(new RegExp(`(\\b${role} = ")U[A-Z2-7]{55}(")`), `$1${nkey}$2`);
      }
      expect(withKeys.match(/U[A-Z2-7]{55}/g)?.sort()).toEqual(users.map((u) => u.nkey).sort());
      writeFileSync(join(exampleDir, 'flake.nix'), withKeys);
      const machines = { cim1: '10.0.0.1', cim2: '10.0.0.2', cim3: '10.0.0.3' };
      for (const name of Object.keys(machines)) writeFileSync(join(exampleDir, 'hardware', `${name}.nix`), '{ }\n');
      const evaluated = await nixEvalJson<
        Record<string, Machine & { loadCredential: string[]; natsLoadCredential: string[] }>
      >(join(REPO_ROOT, 'test', 'nix', 'eval-readme.nix'), '', {
        ...libArg,
        example: join(exampleDir, 'flake.nix'),
      });
      expect(Object.keys(evaluated).sort()).toEqual(Object.keys(machines));
      for (const [name, address] of Object.entries(machines)) {
        const peers = Object.entries(machines)
          .filter(([other]) => other !== name)
          .map(([, a]) => a);
        const printed = await natsConfig([
          '--server-name',
          name,
          '--host',
          address,
          '--peer',
          peers.join(','),
          '--store-dir',
          '/var/lib/nats',
        ]);
        const run = runStartScript(name, evaluated[name]!, stateUsers.routePassword);
        expect(run.status).toBe(0);
        expect(JSON.parse(readFileSync(run.file, 'utf8'))).toEqual(printed);
        expect(evaluated[name]!.failedAssertions).toEqual([]);
        expect(evaluated[name]!.firewall).toEqual([4222, 6222]);
        expect(evaluated[name]!.loadCredential).toEqual([
          ...['auditor', 'gateway', 'loadgen', 'operator', 'retention', 'service'].map(
            (role) => `${role}.nk:/run/secrets/cim-nats-${role}.nk`,
          ),
          'signing-key:/run/secrets/cim-signing.key',
        ]);
        expect(evaluated[name]!.natsLoadCredential).toEqual(['route-password:/run/secrets/cim-route-password']);
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
    [
      'wrongPublicKey',
      'services.cim-appliance.nats.users.service.publicKey',
      'string matching the pattern U[A-Z2-7]{55}',
    ],
    ['wrongSecretPath', 'services.cim-appliance.roleCredentials.service', 'absolute path not in the Nix store'],
    ['wrongRole', 'services.cim-appliance.roleCredentials.admin', 'does not exist'],
    ['wrongRetention', 'services.cim-appliance.retention.policies.person.maxAge', 'string matching the pattern'],
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
