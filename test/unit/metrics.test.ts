// The metrics module without NATS: names, types and labels by Prometheus conventions, exposition
// text that parses, outcomes kept to `ok` and CIM codes, lag samples that never hang a scrape,
// and the standalone /metrics server.
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ApplianceMetrics, CachedSample, startMetricsServer } from '../../appliance/index.js';
import { parseExposition, sampleValue } from '../support/prometheus.js';

describe('ApplianceMetrics', () => {
  it('names, types and labels every series by the conventions, and the text parses', async () => {
    const m = new ApplianceMetrics({ processMetrics: false });
    m.observeCommand('person', { command: 'RegisterPerson', outcome: 'ok', seconds: 0.002, events: 1 });
    m.observeCommand('person', { command: 'RegisterPerson', outcome: 'CIM-REJECTED', seconds: 0.001, events: 0 });
    m.observeCommand('person', { command: 'RenamePerson', outcome: 'ok', seconds: 0.003, events: 2 });
    m.observeHttp('/v1/commands/:domain/:command', 'POST', 200, 0.004);
    m.observeHttp(undefined, 'BREW', 404, 0.0001);
    m.projectionLagFrom(async () => [{ projection: 'person_directory', events: 3, seconds: 1.5 }]);
    m.sealsFrom(() => [
      { domain: 'person', at: new Date(Date.now() - 5_000).toISOString() },
      { domain: 'workflow', at: undefined },
    ]);
    const e = parseExposition(await m.render());
    expect(Object.fromEntries(e.types)).toEqual({
      cim_commands_total: 'counter',
      cim_command_duration_seconds: 'histogram',
      cim_events_appended_total: 'counter',
      cim_http_requests_total: 'counter',
      cim_http_request_duration_seconds: 'histogram',
      cim_nats_reconnects_total: 'counter',
      cim_nats_connected: 'gauge',
      cim_projection_lag_events: 'gauge',
      cim_projection_lag_seconds: 'gauge',
      cim_seal_age_seconds: 'gauge',
    });
    for (const name of e.types.keys()) expect(e.help.get(name)).toBeTruthy();
    expect(sampleValue(e, 'cim_commands_total', { command: 'RegisterPerson', outcome: 'ok' })).toBe(1);
    expect(sampleValue(e, 'cim_commands_total', { command: 'RegisterPerson', outcome: 'CIM-REJECTED' })).toBe(1);
    expect(sampleValue(e, 'cim_command_duration_seconds_count', { command: 'RegisterPerson' })).toBe(2);
    expect(sampleValue(e, 'cim_command_duration_seconds_bucket', { command: 'RegisterPerson', le: '0.001' })).toBe(1);
    expect(sampleValue(e, 'cim_command_duration_seconds_bucket', { command: 'RegisterPerson', le: '+Inf' })).toBe(2);
    expect(sampleValue(e, 'cim_events_appended_total', { domain: 'person' })).toBe(3);
    expect(
      sampleValue(e, 'cim_http_requests_total', {
        route: '/v1/commands/:domain/:command',
        method: 'POST',
        status: '200',
      }),
    ).toBe(1);
    // A route nothing matched and a method nobody defined are one series each, not whatever was sent.
    expect(sampleValue(e, 'cim_http_requests_total', { route: 'unmatched', method: 'OTHER', status: '404' })).toBe(1);
    expect(sampleValue(e, 'cim_projection_lag_events', { projection: 'person_directory' })).toBe(3);
    expect(sampleValue(e, 'cim_projection_lag_seconds', { projection: 'person_directory' })).toBe(1.5);
    expect(sampleValue(e, 'cim_seal_age_seconds', { domain: 'person' })).toBeGreaterThanOrEqual(5);
    expect(sampleValue(e, 'cim_seal_age_seconds', { domain: 'workflow' })).toBeUndefined();
    // The histograms' buckets run from half a millisecond to ten seconds.
    const les = e.samples.filter(
      (s) => s.name === 'cim_command_duration_seconds_bucket' && s.labels.command === 'RenamePerson',
    );
    expect(les.map((s) => s.labels.le)).toEqual([
      '0.0005',
      '0.001',
      '0.0025',
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '2.5',
      '5',
      '10',
      '+Inf',
    ]);
    // The label names are the bounded ones.
    const labelNames = new Set(e.samples.flatMap((s) => Object.keys(s.labels)));
    expect([...labelNames].sort()).toEqual([
      'command',
      'domain',
      'le',
      'method',
      'outcome',
      'projection',
      'route',
      'status',
    ]);
  });

  it('keeps an outcome that is not a CIM code out of the labels', async () => {
    const m = new ApplianceMetrics({ processMetrics: false });
    m.observeCommand('person', { command: 'RegisterPerson', outcome: 'ada@example.org', seconds: 0, events: 0 });
    const e = parseExposition(await m.render());
    expect(sampleValue(e, 'cim_commands_total', { outcome: 'CIM-INTERNAL' })).toBe(1);
    expect(await m.render()).not.toContain('ada@example.org');
  });

  it('registers on its own registry: two appliances in one process count apart, with process metrics', async () => {
    const a = new ApplianceMetrics();
    const b = new ApplianceMetrics();
    a.observeCommand('person', { command: 'RegisterPerson', outcome: 'ok', seconds: 0, events: 1 });
    const eb = parseExposition(await b.render());
    expect(sampleValue(eb, 'cim_commands_total', { outcome: 'ok' })).toBeUndefined();
    expect(eb.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(eb.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect(a.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('answers a scrape from the last lag sample when a fresh one is slow', async () => {
    const m = new ApplianceMetrics({ processMetrics: false, sampleTimeoutMs: 50 });
    let calls = 0;
    let release: () => void = () => {};
    m.projectionLagFrom(async () => {
      calls++;
      if (calls === 1) return [{ projection: 'p', events: 7, seconds: 2 }];
      await new Promise<void>((resolve) => (release = resolve));
      return [{ projection: 'p', events: 0, seconds: 0 }];
    });
    expect(sampleValue(parseExposition(await m.render()), 'cim_projection_lag_events', { projection: 'p' })).toBe(7);
    const started = Date.now();
    // The source hangs: the scrape answers after the timeout with the last sample, and asks only once.
    expect(sampleValue(parseExposition(await m.render()), 'cim_projection_lag_events', { projection: 'p' })).toBe(7);
    expect(sampleValue(parseExposition(await m.render()), 'cim_projection_lag_events', { projection: 'p' })).toBe(7);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(calls).toBe(2);
    release();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sampleValue(parseExposition(await m.render()), 'cim_projection_lag_events', { projection: 'p' })).toBe(0);
  });

  it('CachedSample keeps the last value when a fetch fails', async () => {
    let fail = false;
    const s = new CachedSample(async () => {
      if (fail) throw new Error('NATS is gone');
      return 1;
    }, 100);
    expect(await s.get()).toBe(1);
    fail = true;
    expect(await s.get()).toBe(1);
  });
});

describe('the standalone metrics server', () => {
  it('serves GET /metrics, nothing else, and says so for the rest', async () => {
    const m = new ApplianceMetrics({ processMetrics: false });
    m.observeCommand('person', { command: 'RegisterPerson', outcome: 'ok', seconds: 0.001, events: 1 });
    const server = await startMetricsServer(m, '127.0.0.1:0');
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const response = await fetch(server.url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(sampleValue(parseExposition(await response.text()), 'cim_commands_total', { outcome: 'ok' })).toBe(1);
      expect((await fetch(`http://${server.address}/`)).status).toBe(404);
      expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.stop();
    }
  });

  it('refuses a port in use with CIM-UNAVAILABLE and an address that is not HOST:PORT with CIM-INVALID-CONFIG', async () => {
    const m = new ApplianceMetrics({ processMetrics: false });
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await expect(startMetricsServer(m, `127.0.0.1:${port}`)).rejects.toMatchObject({
        code: 'CIM-UNAVAILABLE',
        message: expect.stringContaining(`cannot listen on 127.0.0.1:${port} for metrics`),
      });
    } finally {
      taken.close();
    }
    await expect(startMetricsServer(m, 'localhost')).rejects.toMatchObject({
      code: 'CIM-INVALID-CONFIG',
      message: 'metrics listen address "localhost" is not HOST:PORT',
    });
  });
});
