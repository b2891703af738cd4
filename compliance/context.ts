// The context the checks run in, made from a cluster target: one shared connection per role, the
// memo of work several checks share, and the limits they apply. `close()` closes the connections.
import type { NatsConnection } from 'nats';
import {
  connectNats,
  Subjects,
  type ApplianceConfig,
  type Domain,
  type NatsRole,
  type Verifier,
} from '../appliance/index.js';
import type { CheckCluster, CheckContext } from './findings.js';

export const DEFAULT_MAX_UNSEALED_AGE_MS = 60 * 60 * 1000;

export interface CheckContextOptions {
  config: ApplianceConfig;
  cluster: CheckCluster;
  domains: readonly Domain<unknown>[];
  trusted: readonly Verifier[];
  subjects?: Subjects;
  maxUnsealedAgeMs?: number;
  now?: () => Date;
}

export function openCheckContext(options: CheckContextOptions): CheckContext & { close(): Promise<void> } {
  const connections = new Map<NatsRole, Promise<NatsConnection>>();
  const memo = new Map<string, Promise<unknown>>();
  return {
    config: options.config,
    subjects: options.subjects ?? new Subjects(),
    cluster: options.cluster,
    domains: options.domains,
    trusted: options.trusted,
    maxUnsealedAgeMs: options.maxUnsealedAgeMs ?? DEFAULT_MAX_UNSEALED_AGE_MS,
    now: options.now ?? (() => new Date()),
    connect(role) {
      let nc = connections.get(role);
      if (!nc) {
        nc = connectNats(options.cluster.endpointFor(role), { name: `cim-comply-${role}` });
        connections.set(role, nc);
        nc.catch(() => connections.delete(role));
      }
      return nc;
    },
    once<T>(key: string, work: () => Promise<T>): Promise<T> {
      let result = memo.get(key) as Promise<T> | undefined;
      if (!result) {
        result = work();
        memo.set(key, result);
      }
      return result;
    },
    async close() {
      for (const nc of connections.values()) await (await nc.catch(() => undefined))?.close().catch(() => {});
      connections.clear();
    },
  };
}
