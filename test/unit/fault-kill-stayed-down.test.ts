// A kill with `for`: the nodes are started again together, and one that does not come back is the
// fault's finding (`stayedDown`, the cause in the detail), not an error of the run. The cluster is a
// stand-in that records what the fault did; the real kill and restart are covered on clusters.
import { describe, expect, it } from 'vitest';
import { CimError, type EmbeddedCluster } from '../../appliance/index.js';
import { seededRandom } from '../../bench/index.js';
import { runFault, type FaultContext } from '../../scenarios/index.js';

function standIn(failing: string[]) {
  const calls: string[] = [];
  const cluster = {
    nodeNames: ['n1', 'n2', 'n3'],
    kill: async (n: string) => void calls.push(`kill ${n}`),
    restart: async (n: string) => {
      calls.push(`restart ${n}`);
      if (failing.includes(n))
        throw new CimError('CIM-UNAVAILABLE', `${n} did not become ready\npanic: corrupt state\ngoroutine 1`);
    },
    stopNode: async (n: string) => void calls.push(`stop ${n}`),
  } as unknown as EmbeddedCluster;
  let t = 0;
  const ctx: FaultContext = {
    cluster,
    clock: () => (t += 1_000),
    random: seededRandom(1),
    restartAppliance: async () => {},
    log: () => {},
  };
  return { ctx, calls };
}

describe('a kill of every node', () => {
  it('starts them again together and says when', async () => {
    const { ctx, calls } = standIn([]);
    const record = await runFault(
      { type: 'fault', name: 'kill-all', action: 'kill', target: { all: true }, for: 1 },
      ctx,
    );
    expect(record.stayedDown).toBeUndefined();
    expect(record.healedAtMs).toBeDefined();
    expect(record.detail).toMatch(/^killed n1, n2, n3 with SIGKILL; started again after/);
    expect(calls.filter((c) => c.startsWith('restart'))).toEqual(['restart n1', 'restart n2', 'restart n3']);
  });

  it('records a node that does not start again as stayedDown with the panic line, stops it, and does not throw', async () => {
    const { ctx, calls } = standIn(['n2']);
    const record = await runFault(
      { type: 'fault', name: 'kill-all', action: 'kill', target: { all: true }, for: 1 },
      ctx,
    );
    expect(record.stayedDown).toBe(true);
    expect(record.healedAtMs).toBeUndefined();
    expect(record.detail).toContain('n2 did not start again: panic: corrupt state');
    expect(calls).toContain('stop n2');
  });
});
