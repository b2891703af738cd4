// `cim serve --metrics HOST:PORT` as an operator runs it: Prometheus text on /metrics that moves
// with the commands sent, JSON log lines on stderr (not a terminal) with correlation ids and no
// payload; a metrics port in use fails with CIM-UNAVAILABLE (exit 3) before anything started.
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, freePorts, sendCommand, type ClusterStatus } from '../../appliance/index.js';
import { runCli, spawnCli } from '../support/cli.js';
import { parseExposition, sampleValue } from '../support/prometheus.js';
import { stateEndpoint } from '../support/roles.js';
import { fileTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait.js';

const work = fileTempDir('serve-metrics');
const state = join(work.path, 'state');
let serve: ChildProcess | undefined;
let stderr = '';
let nc: NatsConnection;
let port: number;

beforeAll(async () => {
  const up = await runCli(['--state', state, 'cluster', 'up', '--nodes', '1', '--json']);
  expect(up.code, up.stderr).toBe(0);
  nc = await connectNats(
    stateEndpoint(
      state,
      'operator',
      (JSON.parse(up.stdout) as ClusterStatus).servers.map((s) => s.url),
    ),
  );
  port = (await freePorts(1))[0]!;
  serve = spawnCli(['--state', state, 'serve', '--metrics', `127.0.0.1:${port}`]);
  serve.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitFor(
    'cim serve to be ready',
    () => stderr.includes('serving person, organization, workflow') || undefined,
    30_000,
  );
});

afterAll(async () => {
  serve?.kill('SIGKILL');
  await nc?.close().catch(() => {});
  await runCli(['--state', state, 'cluster', 'down']);
  work.remove();
});

describe('cim serve --metrics', () => {
  it('serves /metrics that moves with the commands sent', async () => {
    await sendCommand(nc, 'person', 'RegisterPerson', {
      actor: 'e2e-actor',
      correlationId: 'e2e-corr-1',
      payload: { personId: 'lin', name: 'Lin Secretname', email: 'lin@example.org' },
    });
    await expect(
      sendCommand(nc, 'person', 'RegisterPerson', {
        actor: 'e2e-actor',
        correlationId: 'e2e-corr-2',
        payload: { personId: 'lin', name: 'Lin Secretname', email: 'lin@example.org' },
      }),
    ).rejects.toMatchObject({ code: 'CIM-REJECTED' });
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const e = parseExposition(text);
    const labels = { domain: 'person', command: 'RegisterPerson' };
    expect(sampleValue(e, 'cim_commands_total', { ...labels, outcome: 'ok' })).toBe(1);
    expect(sampleValue(e, 'cim_commands_total', { ...labels, outcome: 'CIM-REJECTED' })).toBe(1);
    expect(sampleValue(e, 'cim_command_duration_seconds_count', labels)).toBe(2);
    expect(sampleValue(e, 'cim_events_appended_total', { domain: 'person' })).toBe(1);
    expect(e.types.get('process_cpu_seconds_total')).toBe('counter');
    expect(text).not.toMatch(/lin|e2e-actor/);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
  });

  it('logs JSON lines on stderr with the correlation id and none of the payload', async () => {
    const refused = await waitFor('the refusal logged', () =>
      stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((r) => r.msg === 'command refused'),
    );
    expect(refused).toMatchObject({
      level: 'info',
      correlationId: 'e2e-corr-2',
      domain: 'person',
      command: 'RegisterPerson',
      outcome: 'CIM-REJECTED',
    });
    // Everything the appliance logs is JSON: only the CLI's shutdown notes are plain lines.
    const lines = stderr.split('\n').filter(Boolean);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain(
      `metrics on http://127.0.0.1:${port}/metrics`,
    );
    expect(stderr).not.toMatch(/Secretname|example\.org|e2e-actor/);
  });

  it('fails with CIM-UNAVAILABLE, exit 3, when the metrics port is taken, and starts nothing', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const busy = (taken.address() as { port: number }).port;
    try {
      const second = await runCli(['--state', state, 'serve', '--metrics', `127.0.0.1:${busy}`]);
      expect(second.code, second.stderr).toBe(3);
      expect(second.stderr).toContain(`cim: error CIM-UNAVAILABLE: cannot listen on 127.0.0.1:${busy} for metrics`);
      expect(second.stderr).not.toContain('serving');
    } finally {
      taken.close();
    }
    const pings = [];
    for await (const p of await nc.services.client().ping('cim-person')) pings.push(p);
    expect(pings).toHaveLength(1); // the first instance only
    const bad = await runCli(['--state', state, 'serve', '--log-format', 'xml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('log.format: expected auto, json or text, got "xml" (from flag)');
  });
});
