// The appliance's Prometheus metrics: one prom-client Registry per appliance (never the global
// default one, so two appliances or tests in one process do not share counters), with bounded
// label sets only — domain, command type, outcome (`ok` or a CIM code), projection, route
// template, connection name — never an aggregate id, an actor or anything from a payload.
// Projection lag and seal age are computed when scraped, from cached samples, so a slow NATS
// never hangs a scrape. docs/architecture.md#metrics lists every series.
import type { NatsConnection } from 'nats';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { isCimErrorCode } from '../errors.js';

/** Command and HTTP latency buckets in seconds: from half a millisecond to ten seconds. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface ProjectionLag {
  projection: string;
  /** Events in the projection's streams after its checkpoints. */
  events: number;
  /** Age of the oldest event not applied yet (0 when caught up). */
  seconds: number;
}

export interface SealSeen {
  domain: string;
  /** RFC 3339 time of the domain's last seal; undefined while it has none. */
  at: string | undefined;
}

export interface MetricsOptions {
  /** prom-client's process and Node.js metrics (`process_*`, `nodejs_*`; default true). */
  processMetrics?: boolean;
  /** How long a scrape waits for a fresh projection-lag sample before it answers with the last one (default 1 s). */
  sampleTimeoutMs?: number;
}

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * A value fetched on demand, at most one fetch at a time: `get()` waits up to `timeoutMs` for a
 * fresh value and otherwise answers with the last one (undefined before the first), while the
 * fetch carries on and fills the cache for the next caller.
 */
export class CachedSample<T> {
  private last: T | undefined;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly fetch: () => Promise<T>,
    private readonly timeoutMs: number,
  ) {}

  async get(): Promise<T | undefined> {
    this.pending ??= this.fetch().then(
      (value) => {
        this.last = value;
        this.pending = undefined;
      },
      () => {
        this.pending = undefined; // keep the last value; the next scrape tries again
      },
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.pending, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.timeoutMs)))]);
    clearTimeout(timer);
    return this.last;
  }
}

export class ApplianceMetrics {
  readonly registry = new Registry();
  private readonly commands: Counter<'domain' | 'command' | 'outcome'>;
  private readonly commandSeconds: Histogram<'domain' | 'command'>;
  private readonly appended: Counter<'domain'>;
  private readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  private readonly httpSeconds: Histogram<'route' | 'method'>;
  private readonly reconnects: Counter<'connection'>;
  private readonly connections = new Map<string, { nc: NatsConnection; up: boolean }>();
  private lag: CachedSample<ProjectionLag[]> | undefined;
  private scrapeLag: Promise<ProjectionLag[]> | undefined;
  private seals: (() => SealSeen[]) | undefined;
  private readonly sampleTimeoutMs: number;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.sampleTimeoutMs = options.sampleTimeoutMs ?? 1_000;
    this.commands = new Counter({
      name: 'cim_commands_total',
      help: 'Commands answered by the command services, by domain, command type and outcome (ok or the CIM error code).',
      labelNames: ['domain', 'command', 'outcome'],
      registers,
    });
    this.commandSeconds = new Histogram({
      name: 'cim_command_duration_seconds',
      help: 'Time from receiving a command to answering it, in seconds.',
      labelNames: ['domain', 'command'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.appended = new Counter({
      name: 'cim_events_appended_total',
      help: 'Events appended by the command services, as their replies name them.',
      labelNames: ['domain'],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'cim_http_requests_total',
      help: 'HTTP requests answered by the gateway, by route template, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.httpSeconds = new Histogram({
      name: 'cim_http_request_duration_seconds',
      help: 'Time the gateway took to answer an HTTP request, in seconds.',
      labelNames: ['route', 'method'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.reconnects = new Counter({
      name: 'cim_nats_reconnects_total',
      help: 'Times a NATS connection of the appliance reconnected, by connection name.',
      labelNames: ['connection'],
      registers,
    });
    const connections = this.connections;
    new Gauge({
      name: 'cim_nats_connected',
      help: 'Whether a NATS connection of the appliance is connected (1) or not (0), by connection name.',
      labelNames: ['connection'],
      registers,
      collect() {
        this.reset();
        for (const [name, c] of connections) this.set({ connection: name }, c.up && !c.nc.isClosed() ? 1 : 0);
      },
    });
    // The collect callbacks run with `this` bound to their gauge: the appliance's parts are reached through these.
    const lagSample = () => this.lagSample();
    const seals = () => this.seals?.() ?? [];
    new Gauge({
      name: 'cim_projection_lag_events',
      help: "Events in a projection's streams not applied yet, as of the scrape.",
      labelNames: ['projection'],
      registers,
      async collect() {
        const sample = await lagSample();
        this.reset();
        for (const l of sample) this.set({ projection: l.projection }, l.events);
      },
    });
    new Gauge({
      name: 'cim_projection_lag_seconds',
      help: 'Age in seconds of the oldest event a projection has not applied yet (0 when caught up).',
      labelNames: ['projection'],
      registers,
      async collect() {
        const sample = await lagSample();
        this.reset();
        for (const l of sample) this.set({ projection: l.projection }, l.seconds);
      },
    });
    new Gauge({
      name: 'cim_seal_age_seconds',
      help: "Seconds since the domain's last seal was made (absent while a domain has no seal).",
      labelNames: ['domain'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const s of seals()) {
          const at = s.at === undefined ? NaN : Date.parse(s.at);
          if (Number.isFinite(at)) this.set({ domain: s.domain }, Math.max(0, (now - at) / 1000));
        }
      },
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text of every metric. */
  async render(): Promise<string> {
    try {
      return await this.registry.metrics();
    } finally {
      this.scrapeLag = undefined;
    }
  }

  /** One command answered by a domain's command service. */
  observeCommand(
    domain: string,
    observed: { command: string; outcome: string; seconds: number; events: number },
  ): void {
    // Only `ok` and the CIM codes: an outcome is never free text.
    const outcome = observed.outcome === 'ok' || isCimErrorCode(observed.outcome) ? observed.outcome : 'CIM-INTERNAL';
    this.commands.inc({ domain, command: observed.command, outcome });
    this.commandSeconds.observe({ domain, command: observed.command }, observed.seconds);
    if (observed.events > 0) this.appended.inc({ domain }, observed.events);
  }

  /** One HTTP request answered; `route` is the route template (e.g. `/v1/commands/:domain/:command`) or undefined when none matched. */
  observeHttp(route: string | undefined, method: string, status: number, seconds: number): void {
    const labels = {
      route: route ?? 'unmatched',
      method: HTTP_METHODS.has(method) ? method : 'OTHER',
    };
    this.httpRequests.inc({ ...labels, status: String(status) });
    this.httpSeconds.observe(labels, seconds);
  }

  /** Counts the connection's reconnects and reports whether it is connected, under its (fixed) name. */
  watchNats(nc: NatsConnection, name: string): void {
    const entry = { nc, up: !nc.isClosed() };
    this.connections.set(name, entry);
    this.reconnects.inc({ connection: name }, 0);
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect') entry.up = false;
        else if (status.type === 'reconnect') {
          entry.up = true;
          this.reconnects.inc({ connection: name });
        }
      }
    })().catch(() => {});
  }

  /** The lag sample of this scrape: the registry collects its metrics concurrently, and both lag gauges share one. */
  private lagSample(): Promise<ProjectionLag[]> {
    this.scrapeLag ??= (this.lag?.get() ?? Promise.resolve(undefined)).then((sample) => sample ?? []);
    return this.scrapeLag;
  }

  /** Where projection lag comes from: called at most once at a time, and a scrape waits for it only so long. */
  projectionLagFrom(source: () => Promise<ProjectionLag[]>): void {
    this.lag = new CachedSample(source, this.sampleTimeoutMs);
  }

  /** Where each domain's last seal time comes from (must not ask NATS: it runs in every scrape). */
  sealsFrom(source: () => SealSeen[]): void {
    this.seals = source;
  }
}
