// What `cim cluster status` reports, for the embedded cluster (from each server's monitoring
// endpoint) or an attached one (from the NATS connection itself), and its text rendering.
import type { NatsConnection } from 'nats';
import { connectNats, type NatsEndpoint } from './connection.js';

export interface ServerStatus {
  name: string;
  state: 'running' | 'paused' | 'stopped' | 'unreachable';
  pid?: number | undefined;
  url: string;
  ports?: { client: number; cluster: number; monitor: number } | undefined;
  version: string | undefined;
  connections: number | undefined;
  routes: number | undefined;
  metaLeader: string | undefined;
  clusterSize: number | undefined;
}

export interface ClusterStatus {
  mode: 'embedded' | 'attached';
  name: string | undefined;
  persistent?: boolean;
  stateDir?: string;
  size: number;
  /** The JetStream meta leader; an attached cluster shows it only to system-account users. */
  metaLeader: string | undefined;
  jetstream?: { streams: number; consumers: number } | undefined;
  servers: ServerStatus[];
}

function asUrl(hostPort: string): string {
  return hostPort.includes('://') ? hostPort : `nats://${hostPort}`;
}

/**
 * Status of a cluster we attach to: every server it advertises (connect_urls), each asked for its
 * name and version by connecting to it directly. Nothing is started.
 */
export async function attachedClusterStatus(endpoint: NatsEndpoint): Promise<ClusterStatus> {
  const nc = await connectNats(endpoint, { name: 'cim-status' });
  try {
    const info = nc.info;
    const advertised = info?.connect_urls?.length ? info.connect_urls.map(asUrl) : endpoint.servers;
    const servers = await Promise.all(advertised.map((url) => serverStatusOver(url, endpoint)));
    let jetstream: ClusterStatus['jetstream'];
    try {
      const account = await (await nc.jetstreamManager()).getAccountInfo();
      jetstream = { streams: account.streams, consumers: account.consumers };
    } catch {
      jetstream = undefined;
    }
    return {
      mode: 'attached',
      name: info?.cluster,
      size: servers.length,
      metaLeader: await metaLeaderViaSystemAccount(nc),
      jetstream,
      servers,
    };
  } finally {
    await nc.close();
  }
}

async function serverStatusOver(url: string, endpoint: NatsEndpoint): Promise<ServerStatus> {
  const status: ServerStatus = {
    name: url,
    state: 'unreachable',
    url,
    version: undefined,
    connections: undefined,
    routes: undefined,
    metaLeader: undefined,
    clusterSize: undefined,
  };
  try {
    const nc = await connectNats(
      { ...endpoint, servers: [url] },
      { name: 'cim-status', timeoutMs: 2_000, extra: { maxReconnectAttempts: 0, noRandomize: true } },
    );
    try {
      return { ...status, name: nc.info?.server_name ?? url, state: 'running', version: nc.info?.version };
    } finally {
      await nc.close();
    }
  } catch {
    return status;
  }
}

/** Only a system-account user may ask servers for /jsz over NATS; everyone else gets undefined. */
async function metaLeaderViaSystemAccount(nc: NatsConnection): Promise<string | undefined> {
  try {
    const reply = await nc.request('$SYS.REQ.SERVER.PING.JSZ', undefined, { timeout: 1_000 });
    const body = JSON.parse(new TextDecoder().decode(reply.data)) as { data?: { meta_cluster?: { leader?: string } } };
    return body.data?.meta_cluster?.leader || undefined;
  } catch {
    return undefined;
  }
}

export function renderClusterStatus(status: ClusterStatus): string {
  const lines = [
    `cluster ${status.name ?? '(unnamed)'} — ${status.mode}${status.persistent ? ', left running by `cim cluster up`' : ''}`,
    `  servers: ${status.size}   JetStream meta leader: ${status.metaLeader ?? (status.mode === 'attached' ? 'not visible (needs a system-account user)' : 'none')}`,
  ];
  if (status.stateDir) lines.push(`  state: ${status.stateDir}`);
  if (status.jetstream)
    lines.push(`  JetStream: ${status.jetstream.streams} stream(s), ${status.jetstream.consumers} consumer(s)`);
  lines.push('');
  const rows = [['NAME', 'STATE', 'URL', 'CLUSTER', 'MONITOR', 'VERSION', 'ROUTES', 'LEADER']];
  for (const s of status.servers) {
    rows.push([
      s.name,
      s.state,
      s.url,
      s.ports ? String(s.ports.cluster) : '-',
      s.ports ? String(s.ports.monitor) : '-',
      s.version ?? '-',
      s.routes === undefined ? '-' : String(s.routes),
      s.metaLeader === s.name ? '*' : '',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows)
    lines.push(
      '  ' +
        row
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
    );
  return lines.join('\n');
}
