import { describe, expect, it } from 'vitest';
import { renderClusterStatus, type ClusterStatus, type ServerStatus } from '../../appliance/index.js';

const server = (name: string, over: Partial<ServerStatus> = {}): ServerStatus => ({
  name,
  state: 'running',
  url: `nats://127.0.0.1:4${name.slice(1)}`,
  ports: { client: 4000, cluster: 6000, monitor: 8000 },
  version: '2.9.10',
  connections: 0,
  routes: 2,
  metaLeader: 'n2',
  clusterSize: 3,
  ...over,
});

describe('renderClusterStatus', () => {
  it('shows each server with its state and marks the meta leader', () => {
    const status: ClusterStatus = {
      mode: 'embedded',
      name: 'cim',
      size: 3,
      metaLeader: 'n2',
      servers: [server('n1'), server('n2'), server('n3', { state: 'paused', version: undefined, routes: undefined })],
    };
    const lines = renderClusterStatus(status).split('\n');
    expect(lines[1]).toContain('servers: 3');
    expect(lines[1]).toContain('JetStream meta leader: n2');
    const n2 = lines.find((l) => l.trim().startsWith('n2'))!;
    expect(n2.trimEnd().endsWith('*')).toBe(true);
    const n3 = lines.find((l) => l.trim().startsWith('n3'))!;
    expect(n3).toContain('paused');
    expect(n3).not.toContain('*');
  });

  it('says why an attached cluster shows no meta leader', () => {
    const text = renderClusterStatus({
      mode: 'attached',
      name: 'prod',
      size: 1,
      metaLeader: undefined,
      servers: [server('a')],
    });
    expect(text).toContain('needs a system-account user');
  });
});
