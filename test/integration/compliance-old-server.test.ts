// The durability check on a cluster of the cached nats-server 2.12.1 (sync_interval always): the
// findings of the independent analysis of that release are named for every node, at high, and
// nothing else above info.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cachedServerPath,
  EmbeddedCluster,
  loadConfig,
  referenceDomains,
  type ApplianceConfig,
} from '../../appliance/index.js';
import { openCheckContext, runChecks } from '../../compliance/index.js';
import { tempDir } from '../support/temp-dir.js';

const OLD = '2.12.1';
const available = existsSync(cachedServerPath(OLD, process.env));
const state = tempDir('compliance-old-server');
let config: ApplianceConfig;
let cluster: EmbeddedCluster | undefined;

beforeAll(async () => {
  if (!available) return;
  config = loadConfig({
    env: {},
    flags: { stateDir: state.path, natsServer: OLD, 'cluster.nodes': '3', 'cluster.syncInterval': 'always' },
  });
  cluster = await EmbeddedCluster.start(config);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  state.remove();
});

describe(`a cluster of nats-server ${OLD}`, () => {
  it.skipIf(!available)('is named with each data-loss finding of the analysis of that release, per node', async () => {
    const embedded = cluster!;
    const ctx = openCheckContext({
      config,
      cluster: {
        mode: 'embedded-own',
        servers: embedded.clientUrls,
        endpointFor: (role) => embedded.endpointFor(role),
        embedded,
        nodeCount: 3,
      },
      domains: referenceDomains,
      trusted: [],
    });
    try {
      const [durability] = await runChecks(ctx, { only: ['durability'] });
      const above = durability!.findings.filter((f) => f.severity !== 'info');
      const expected = ['7545', '7549', '7556', '7567'].flatMap((issue) =>
        ['n1', 'n2', 'n3'].map((node) => `durability:known-bug:nats-server#${issue}:${node}`),
      );
      expect(above.map((f) => f.id).sort()).toEqual(expected.sort());
      expect(above.every((f) => f.severity === 'high')).toBe(true);
      expect(above[0]!.evidence).toMatchObject({ version: OLD, source: 'varz' });
      expect(above[0]!.message).toMatch(/jepsen|Risk: .*Fix: /i);
    } finally {
      await ctx.close();
    }
  });
});
