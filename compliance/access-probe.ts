// Trying an action as a NATS role and telling what the server made of it. A refused publish does
// not throw: the server answers with an asynchronous permissions violation, which comes back on
// the connection's status; so each probe flushes, waits a moment for it, and looks.
import { headers as natsHeaders, type NatsConnection } from 'nats';
import { connectNats, sleep, type NatsEndpoint } from '../appliance/index.js';
import { NEVER_SEQ, type Outcome, type Probe } from './access-matrix.js';

const encoder = new TextEncoder();

export class RoleProbe {
  /** Every permissions violation the server sent, as `publish <subject>` / `subscription <subject>`. */
  readonly violations: string[] = [];

  constructor(
    readonly role: string,
    readonly nc: NatsConnection,
  ) {
    void (async () => {
      for await (const status of nc.status()) {
        const context = (status as { permissionContext?: { operation: string; subject: string } }).permissionContext;
        if (context) this.violations.push(`${context.operation} ${context.subject}`);
      }
    })();
  }

  static async open(role: string, endpoint: NatsEndpoint, name = `cim-access-${role}`): Promise<RoleProbe> {
    return new RoleProbe(role, await connectNats(endpoint, { name, timeoutMs: 3_000 }));
  }

  /** Waits until the server has processed everything sent so far (and sent any -ERR for it). */
  private async settle(): Promise<void> {
    await this.nc.flush();
    await sleep(30);
  }

  private refused(operation: 'publish' | 'subscription', subject: string): boolean {
    return this.violations.includes(`${operation} ${subject}`);
  }

  async publish(subject: string, body = '{"probe":true}'): Promise<Outcome> {
    this.nc.publish(subject, encoder.encode(body));
    await this.settle();
    return this.refused('publish', subject) ? 'denied' : 'allowed';
  }

  /** A request: allowed when the server let it through (any reply, or no responders), denied on a violation. */
  async request(
    subject: string,
    body = '{}',
    options: { headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<{ outcome: Outcome; detail?: string }> {
    let detail: string | undefined;
    let answered = false;
    const h = options.headers ? natsHeaders() : undefined;
    for (const [k, v] of Object.entries(options.headers ?? {})) h!.set(k, v);
    try {
      const reply = await this.nc.request(subject, encoder.encode(body), {
        timeout: options.timeoutMs ?? 1_500,
        ...(h ? { headers: h } : {}),
      });
      answered = true;
      detail = new TextDecoder().decode(reply.data).slice(0, 200);
    } catch (error) {
      // A status reply (503 no responders, 404 no messages, …) is an answer too: the request went through.
      const code = (error as { code?: string }).code;
      answered = code !== 'TIMEOUT';
      detail = code ?? (error as Error).message;
    }
    await this.settle();
    if (this.refused('publish', subject)) return { outcome: 'denied' };
    return { outcome: answered ? 'allowed' : 'silent', ...(detail !== undefined ? { detail } : {}) };
  }

  async subscribe(subject: string): Promise<Outcome> {
    const sub = this.nc.subscribe(subject);
    await this.settle();
    const denied = this.refused('subscription', subject);
    sub.unsubscribe();
    return denied ? 'denied' : 'allowed';
  }

  /** One probe of the matrix, as harmless as its definition makes it. */
  async run(probe: Probe): Promise<{ outcome: Outcome; detail?: string }> {
    switch (probe.kind) {
      case 'publish':
        return { outcome: await this.publish(probe.subject, probe.body) };
      case 'subscribe':
        return { outcome: await this.subscribe(probe.subject) };
      case 'stored-publish':
        // JetStream refuses it (wrong last sequence) once the permission check let it through.
        return this.request(probe.subject, probe.body ?? '{"probe":true}', {
          headers: { 'Nats-Expected-Last-Sequence': NEVER_SEQ },
        });
      case 'request':
        return this.request(probe.subject, probe.body);
    }
  }

  async close(): Promise<void> {
    await this.nc.close().catch(() => {});
  }
}
