// The durability posture: each server's version against the known data-loss bugs (known-bugs.ts),
// its JetStream fsync policy, and the appliance's streams' replicas, storage, persistence mode and
// the options that let messages be removed behind deny_purge's back.
import type { NatsConnection, StreamInfo } from 'nats';
import { attachedClusterStatus } from '../../appliance/index.js';
import { DEFERRED_FSYNC, knownBugsOf } from '../known-bugs.js';
import type { CheckContext, CheckOutcome, ComplianceCheck, ComplianceFinding } from '../findings.js';

/** A server as the check saw it: from its monitoring endpoint (embedded) or its INFO (attached). */
export interface ServerPosture {
  name: string;
  version: string | undefined;
  /** `always`, a duration in ms, or undefined when it could not be read. */
  sync: 'always' | number | undefined;
  source: 'varz' | 'info';
}

/** The appliance's streams: its domains', seals, audit, retention manifests and its KV buckets. */
export function isApplianceStream(name: string): boolean {
  return (/^CIM_/.test(name) && !/^CIM_BENCH/.test(name)) || /^KV_cim_/.test(name);
}

const TWO_MINUTES_MS = 120_000;

/** The findings for one server's version and fsync policy (pure: unit-tested). */
export function serverFindings(server: ServerPosture): ComplianceFinding[] {
  const findings: ComplianceFinding[] = [];
  const evidence = { server: server.name, version: server.version ?? null, source: server.source };
  if (server.version === undefined) {
    findings.push({
      id: `durability:version-unknown:${server.name}`,
      check: 'durability',
      severity: 'medium',
      message: `${server.name}: its version could not be read, so it was not checked against the known data-loss bugs`,
      evidence,
    });
  } else {
    for (const match of knownBugsOf(server.version)) {
      findings.push({
        id: `durability:known-bug:${match.bug.id}:${server.name}`,
        check: 'durability',
        severity: match.severity,
        message: `${server.name} runs nats-server ${server.version}: ${match.bug.title} (${match.bug.id}; ${match.why}). Risk: ${match.bug.risk}. Fix: ${match.bug.remedy}.`,
        evidence: { ...evidence, bug: match.bug.id, why: match.why, references: [...match.bug.references] },
      });
    }
  }
  if (server.sync === undefined) {
    findings.push({
      id: `durability:sync-interval-unknown:${server.name}`,
      check: 'durability',
      severity: 'low',
      message: `${server.name}: its JetStream sync_interval could not be read (monitoring endpoint not reachable); check the server config has jetstream.sync_interval: always`,
      evidence,
    });
  } else if (server.sync !== 'always') {
    const deflt = server.sync === TWO_MINUTES_MS;
    findings.push({
      id: `durability:sync-interval:${server.name}`,
      check: 'durability',
      severity: 'high',
      message:
        `${server.name} syncs JetStream writes to disk every ${server.sync / 1000} s${deflt ? ' (the default)' : ''} but acknowledges them at once: ` +
        `a power failure or kernel crash of a node, with a pause or partition of another, loses acknowledged events (${DEFERRED_FSYNC.id}). ` +
        'Fix: jetstream { sync_interval: always } in every server config (`cim cluster up --sync-interval always`, `cim nats-config --sync-interval always`), at some cost in write throughput.',
      evidence: { ...evidence, syncIntervalMs: server.sync, references: [...DEFERRED_FSYNC.references] },
    });
  }
  return findings;
}

/** The findings for one stream's configuration (pure: unit-tested). */
export function streamFindings(info: Pick<StreamInfo, 'config'>, nodes: number): ComplianceFinding[] {
  const config = info.config as StreamInfo['config'] & Record<string, unknown>;
  const name = config.name;
  const findings: ComplianceFinding[] = [];
  const kv = name.startsWith('KV_');
  const add = (kind: string, severity: ComplianceFinding['severity'], message: string, read: Record<string, unknown>) =>
    findings.push({
      id: `durability:${kind}:${name}`,
      check: 'durability',
      severity,
      message,
      evidence: { stream: name, config: read },
    });
  const replicas = config.num_replicas ?? 1;
  if (replicas < 3) {
    add(
      'replicas',
      kv ? 'medium' : 'high',
      `${name} has ${replicas} replica${replicas === 1 ? '' : 's'}: losing ${replicas === 1 ? 'its one server' : 'one server'} loses or stalls it${nodes < 3 ? ` (the cluster has ${nodes} node${nodes === 1 ? '' : 's'})` : ''}. Fix: run 3 (or 5) nodes and num_replicas 3 (operator: stream update).`,
      { num_replicas: replicas, nodes },
    );
  }
  if (config.storage === 'memory') {
    add(
      'memory-storage',
      'high',
      `${name} is kept in memory only: a restart of its servers loses every message. Fix: file storage (a new stream; the storage type cannot be changed in place).`,
      { storage: config.storage },
    );
  }
  if (config.persist_mode === 'async') {
    add(
      'persist-async',
      'high',
      `${name} has persist_mode: async: writes are acknowledged before they are even handed to the file store. Fix: persist_mode default (sync).`,
      { persist_mode: config.persist_mode },
    );
  }
  const markerTtl = config.subject_delete_marker_ttl;
  if (typeof markerTtl === 'number' && markerTtl > 0) {
    add(
      'delete-markers',
      'high',
      `${name} has subject_delete_marker_ttl set: subjects are removed by expiring markers, a purge that deny_purge does not stop. Fix: leave subject_delete_marker_ttl unset.`,
      { subject_delete_marker_ttl: markerTtl },
    );
  }
  if (config.allow_msg_schedules === true) {
    add(
      'message-schedules',
      'high',
      `${name} allows message schedules: a publisher can schedule messages that act on the stream later (rollups, TTLs), which deny_purge does not stop. Fix: allow_msg_schedules false.`,
      { allow_msg_schedules: true },
    );
  }
  if (config.allow_msg_ttl === true && !kv) {
    add(
      'message-ttl',
      'high',
      `${name} allows per-message TTLs: any publisher can make an event expire. Fix: allow_msg_ttl false.`,
      { allow_msg_ttl: true },
    );
  }
  if (config.allow_rollup_hdrs === true && !kv) {
    add(
      'rollups',
      'high',
      `${name} allows rollup headers: a publisher with a Nats-Rollup header purges a subject's history. Fix: allow_rollup_hdrs false.`,
      { allow_rollup_hdrs: true },
    );
  }
  return findings;
}

async function serversOf(ctx: CheckContext): Promise<ServerPosture[]> {
  const embedded = ctx.cluster.embedded;
  if (embedded) {
    return Promise.all(
      embedded.nodeNames.map(async (node): Promise<ServerPosture> => {
        try {
          const varz = (await embedded.monitor(node).varz()) as { version: string; server_name: string } & {
            jetstream?: { config?: { sync_interval?: number; sync_always?: boolean } };
          };
          const js = varz.jetstream?.config;
          const sync = js?.sync_always
            ? 'always'
            : js?.sync_interval !== undefined
              ? Math.round(js.sync_interval / 1e6)
              : undefined;
          return { name: varz.server_name || node, version: varz.version, sync, source: 'varz' };
        } catch {
          return { name: node, version: undefined, sync: undefined, source: 'varz' };
        }
      }),
    );
  }
  const status = await attachedClusterStatus(ctx.cluster.endpointFor('auditor'));
  return status.servers.map((s) => ({ name: s.name, version: s.version, sync: undefined, source: 'info' }));
}

async function applianceStreams(nc: NatsConnection): Promise<StreamInfo[]> {
  const jsm = await nc.jetstreamManager();
  const streams: StreamInfo[] = [];
  for await (const info of jsm.streams.list()) if (isApplianceStream(info.config.name)) streams.push(info);
  return streams.sort((a, b) => a.config.name.localeCompare(b.config.name));
}

export const durabilityCheck: ComplianceCheck = {
  name: 'durability',
  title: 'Durability posture',
  async run(ctx, progress): Promise<CheckOutcome> {
    const servers = await serversOf(ctx);
    progress?.(1, 2);
    const streams = await applianceStreams(await ctx.connect('auditor'));
    progress?.(2, 2);
    const findings = [
      ...servers.flatMap(serverFindings),
      ...streams.flatMap((s) => streamFindings(s, ctx.cluster.nodeCount)),
    ];
    return {
      check: 'durability',
      findings,
      examined: { servers: servers.length, streams: streams.length },
      evidence: {
        servers: servers.map((s) => ({ ...s, version: s.version ?? null, sync: s.sync ?? null })),
        streams: streams.map((s) => {
          const c = s.config as StreamInfo['config'] & Record<string, unknown>;
          return {
            name: c.name,
            replicas: c.num_replicas ?? 1,
            storage: String(c.storage),
            persistMode: typeof c.persist_mode === 'string' ? c.persist_mode : 'default',
          };
        }),
      },
    };
  },
};
