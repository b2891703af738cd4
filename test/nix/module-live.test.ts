// The NixOS module's units run as systemd would run them, on loopback: nats-servers with the
// configs the module generates (each written by the NATS unit's start script from the route
// password credential), and `cim serve` with the module's config file, environment and
// credentials. Routes authenticate (a member with another password stays out), a connection
// without credentials is refused, and the appliance connects as its roles with the seeds the
// module hands over.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'nats';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  connectNats,
  findNatsServer,
  freePorts,
  NATS_ROLES,
  NatsUsers,
  roleEndpoint,
  type NatsServerConfig,
} from '../../appliance/index.js';
import { spawnCli } from '../support/cli.js';
import { describeNix, nixEvalJson, NIX_TIMEOUT_MS, REPO_ROOT, unpackNixpkgsLib } from '../support/nix.js';
import { tempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait.js';

const EVAL = join(REPO_ROOT, 'test', 'nix', 'eval-module.nix');
const FAKE_JQ = '/nix/store/00000000000000000000000000000000-jq/bin/jq';
const FAKE_TEMPLATE = '/nix/store/00000000000000000000000000000000-nats-template.json';

interface Machine {
  nats: NatsServerConfig;
  settings: Record<string, unknown>;
  services: Record<string, { environment: Record<string, string>; serviceConfig: Record<string, unknown> }>;
  failedAssertions: string[];
  runtimeConfigScript: string;
}

interface Ports {
  client: number;
  cluster: number;
  monitor: number;
}

describeNix("the NixOS module's units, run on loopback", () => {
  let dir: ReturnType<typeof tempDir>;
  let users: NatsUsers;
  let machines: Record<string, Machine>;
  let ports: Ports[];
  const servers: ChildProcess[] = [];
  let serve: ChildProcess | undefined;

  // The three members that share the route password.
  const clientUrls = () => ports.slice(0, 3).map((p) => `nats://127.0.0.1:${p.client}`);

  /** Writes a member's config as its unit's ExecStartPre does, and starts nats-server with it as ExecStart does. */
  const startMember = async (name: string, password: string): Promise<ChildProcess> => {
    const machine = machines[name]!;
    const base = join(dir.path, name);
    const credentials = join(base, 'credentials');
    const runtime = join(base, 'run');
    mkdirSync(credentials, { recursive: true });
    mkdirSync(runtime, { recursive: true });
    writeFileSync(join(credentials, 'route-password'), password);
    // The JetStream store lies under /var/lib on a machine; here in the temp dir.
    writeFileSync(
      join(base, 'template.json'),
      JSON.stringify({ ...machine.nats, jetstream: { store_dir: join(base, 'store') } }),
    );
    const script = machine.runtimeConfigScript
      .replace(FAKE_JQ, 'jq')
      .replace(FAKE_TEMPLATE, join(base, 'template.json'));
    const run = spawnSync('bash', ['-c', script], {
      env: { ...process.env, CREDENTIALS_DIRECTORY: credentials, RUNTIME_DIRECTORY: runtime },
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    const binary = await findNatsServer();
    const server = spawn(binary.path, ['-c', join(runtime, 'nats.conf')], { stdio: 'ignore' });
    servers.push(server);
    return server;
  };

  const routesOf = async (p: Ports): Promise<number> => {
    const routez = (await (await fetch(`http://127.0.0.1:${p.monitor}/routez`)).json()) as {
      routes?: Array<{ remote_id: string }>;
    };
    return new Set((routez.routes ?? []).map((r) => r.remote_id)).size;
  };

  beforeAll(async () => {
    dir = tempDir('nix-live');
    const libPath = unpackNixpkgsLib(dir.path);
    users = NatsUsers.ensure(join(dir.path, 'nats-users'));
    // Four members in the config; the fourth starts with another route password.
    const free = await freePorts(12);
    ports = [0, 1, 2, 3].map((i) => ({ client: free[i]!, cluster: free[4 + i]!, monitor: free[8 + i]! }));
    machines = await nixEvalJson<Record<string, Machine>>(
      EVAL,
      'live',
      { libPath },
      {
        publicKeys: JSON.stringify(Object.fromEntries(NATS_ROLES.map((role) => [role, users.publicKey(role)]))),
        livePorts: JSON.stringify(ports),
      },
    );
    for (const name of ['live1', 'live2', 'live3']) await startMember(name, users.routePassword);
    await startMember('live4', 'not-the-route-password');
  }, NIX_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    serve?.kill('SIGKILL');
    for (const server of servers) server.kill('SIGKILL');
    dir?.remove();
  });

  it('the members evaluate without a failed assertion', () => {
    expect(Object.keys(machines).sort()).toEqual(['live1', 'live2', 'live3', 'live4']);
    for (const machine of Object.values(machines)) expect(machine.failedAssertions).toEqual([]);
  });

  it('the members form a cluster: their routes authenticate with the password from the credential, a wrong one is refused', async () => {
    for (const p of ports.slice(0, 3)) {
      await waitFor(`routes to the two other members of :${p.cluster}`, async () => (await routesOf(p)) === 2);
    }
    // The fourth has tried its peers (and they it) for a while, and no route came up either way.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await routesOf(ports[3]!)).toBe(0);
    for (const p of ports.slice(0, 3)) expect(await routesOf(p)).toBe(2);
  }, 40_000);

  it('a connection without credentials is refused', async () => {
    await expect(connect({ servers: clientUrls()[0], reconnect: false, timeout: 5_000 })).rejects.toThrow(
      /Authorization Violation/i,
    );
  });

  it('`cim serve`, run with the settings, environment and credentials the module gives its unit, provisions and serves', async () => {
    const machine = machines.live1!;
    const unit = machine.services['cim-appliance']!;
    // systemd's credentials directory: each LoadCredential NAME:PATH as a file NAME.
    const credentials = join(dir.path, 'appliance-credentials');
    mkdirSync(credentials, { recursive: true });
    for (const entry of unit.serviceConfig.LoadCredential as string[]) {
      const [name, path] = entry.split(':') as [string, string];
      const role = /^(\w+)\.nk$/.exec(name)?.[1];
      expect(role, entry).toBeDefined();
      expect(path).toBe(`/run/keys/${role}.nk`);
      copyFileSync(users.seedFile(role as (typeof NATS_ROLES)[number]), join(credentials, name));
    }
    const environment = Object.fromEntries(
      Object.entries(unit.environment).map(([k, v]) => [k, v.replaceAll('%d', credentials)]),
    );
    expect(environment).toEqual({ CIM_NATS_USERS_DIR: credentials });
    // StateDirectory= lies under /var/lib on a machine; here in the temp dir.
    const configFile = join(dir.path, 'cim-appliance.json');
    // The module names every member; the fourth is kept out of the cluster above, so the unit here
    // is pointed at the three that formed it.
    const settingsUrls = (machine.settings.nats as { urls: string[] }).urls;
    expect(settingsUrls).toEqual(ports.map((p) => `nats://127.0.0.1:${p.client}`));
    const nats = { ...(machine.settings.nats as object), urls: clientUrls() };
    writeFileSync(configFile, JSON.stringify({ ...machine.settings, nats, stateDir: join(dir.path, 'state') }));

    // The routes are up; JetStream's meta group may still be electing a leader, and the appliance
    // provisions its streams at once (a machine's unit would be restarted by systemd; here it would fail).
    const probe = await connectNats(roleEndpoint(clientUrls(), 'auditor', { users }), { name: 'test-probe' });
    try {
      const jsm = await probe.jetstreamManager();
      await waitFor(
        'a JetStream meta leader',
        () =>
          jsm.getAccountInfo().then(
            () => true,
            () => undefined,
          ),
        30_000,
      );
    } finally {
      await probe.close();
    }

    let output = '';
    serve = spawnCli(['--config', configFile, 'serve'], { env: { ...environment, CIM_DEBUG: '1' } });
    serve.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    serve.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<never>((_, reject) =>
      serve!.once('exit', (code) => reject(new Error(`cim serve exited ${code}:\n${output}`))),
    );
    await Promise.race([
      exited,
      waitFor('cim serve to be ready', () => output.includes('serving person') || undefined, 30_000),
    ]);
    // Provisioned as operator: the domain streams exist, replicated on the three members.
    const auditor = await connectNats(roleEndpoint(clientUrls(), 'auditor', { users }), { name: 'test-auditor' });
    try {
      const info = await (await auditor.jetstreamManager()).streams.info('CIM_PERSON');
      expect(info.config.num_replicas).toBe(3);
    } finally {
      await auditor.close();
    }
    exited.catch(() => {});
    serve.kill('SIGTERM');
    await waitFor('cim serve to stop', () => serve!.exitCode !== null || undefined, 60_000);
    // cim exits 143 after a clean shutdown on SIGTERM: the unit counts that as success.
    expect(serve.exitCode, output).toBe(143);
    expect(unit.serviceConfig.SuccessExitStatus).toEqual([143]);
    expect(output).not.toMatch(/while shutting down/);
    expect(readFileSync(configFile, 'utf8')).not.toContain(users.routePassword);
  }, 120_000);
});
