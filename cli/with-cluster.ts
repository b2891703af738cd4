// The one way a verb gets at NATS: the cluster it needs (attached with --nats, left running by
// `cim cluster up`, or started for this command), connections to it on request, and the clean-up
// whatever happens: connections closed, then the cluster released (stopped only if started here).
import type { NatsConnection } from 'nats';
import {
  connectNats,
  openCluster,
  type ApplianceConfig,
  type ClusterTarget,
  type NatsRole,
} from '../appliance/index.js';
import { log } from './wiring.js';

export interface OpenCluster extends ClusterTarget {
  /** A connection to the cluster as `role`, closed when the verb's work ends (closing it sooner is fine). */
  connect(role: NatsRole, name: string): Promise<NatsConnection>;
}

export async function withCluster<T>(
  config: ApplianceConfig,
  work: (cluster: OpenCluster) => Promise<T>,
  /** Where notes about the cluster go (default: `cim: ...` lines on stderr). */
  options: { log?: (line: string) => void } = {},
): Promise<T> {
  const target = await openCluster(config, { log: options.log ?? log });
  const connections: NatsConnection[] = [];
  const connect = async (role: NatsRole, name: string) => {
    const nc = await connectNats(target.endpointFor(role), { name });
    connections.push(nc);
    return nc;
  };
  try {
    return await work({ ...target, connect });
  } finally {
    try {
      for (const nc of connections.reverse()) await nc.close();
    } finally {
      await target.release();
    }
  }
}

/** withCluster for the verbs that need one connection and nothing else of the cluster. */
export function withConnection<T>(
  config: ApplianceConfig,
  role: NatsRole,
  name: string,
  work: (nc: NatsConnection) => Promise<T>,
): Promise<T> {
  return withCluster(config, async (cluster) => work(await cluster.connect(role, name)));
}
