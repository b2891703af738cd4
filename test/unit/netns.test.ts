// The network namespaces of a cluster that can be partitioned, without touching the host: `ip` is
// replaced by a recorder, the uid and platform are injected. What the real commands do on a real
// cluster is tested in test/integration/partition.test.ts.
import { describe, expect, it } from 'vitest';
import { isCimError, loadConfig } from '../../appliance/index.js';
import {
  NetworkNamespaces,
  requireNetworkNamespaces,
  staleSets,
  type IpCommand,
} from '../../appliance/cluster/netns.js';
import { runBench } from '../../scenarios/bench-run.js';
import { parseScenario } from '../../scenarios/loader.js';
import { tempDir } from '../support/temp-dir.js';

/** An `ip` that records its calls and fails the calls `fail` matches. */
function recorder(fail: (args: readonly string[]) => boolean = () => false, outputs: Record<string, string> = {}) {
  const calls: string[] = [];
  const ip: IpCommand = async (args) => {
    const line = args.join(' ');
    calls.push(line);
    if (fail(args)) throw new Error(`ip ${line}: failed`);
    return outputs[line] ?? '';
  };
  return { ip, calls };
}

const ROOT = { platform: 'linux' as const, uid: 0 };

function refusal(fn: () => unknown): { code: string; message: string; hint?: string | undefined } {
  try {
    fn();
  } catch (error) {
    if (isCimError(error)) return { code: error.code, message: error.message, hint: error.hint };
    throw error;
  }
  throw new Error('not refused');
}

describe('the root check of partitions', () => {
  it('given uid 1000 on Linux, then CIM-NEEDS-ROOT says why root is needed and what to do', () => {
    const r = refusal(() => requireNetworkNamespaces('scenario partition-leader', { platform: 'linux', uid: 1000 }));
    expect(r.code).toBe('CIM-NEEDS-ROOT');
    expect(r.message).toBe(
      'scenario partition-leader needs root: it puts each node in a network namespace of its own and cuts routes between them (uid 1000)',
    );
    expect(r.hint).toContain('sudo');
    expect(r.hint).toContain('`partition` suite');
  });

  it('given another platform, then CIM-NEEDS-ROOT says it needs Linux, even as root', () => {
    const r = refusal(() => requireNetworkNamespaces('a partition', { platform: 'darwin', uid: 0 }));
    expect(r).toMatchObject({
      code: 'CIM-NEEDS-ROOT',
      message: 'a partition needs Linux network namespaces; this is darwin',
    });
  });

  it('given root on Linux, then it is allowed', () => {
    expect(() => requireNetworkNamespaces('a partition', ROOT)).not.toThrow();
  });

  it('given uid 1000, when namespaces are asked for, then it refuses before running a single ip command', async () => {
    const { ip, calls } = recorder();
    await expect(
      NetworkNamespaces.create(['n1', 'n2', 'n3'], { ip, host: { platform: 'linux', uid: 1000 } }),
    ).rejects.toMatchObject({
      code: 'CIM-NEEDS-ROOT',
    });
    expect(calls).toEqual([]);
  });

  it('given uid 1000, when cim bench is given a partition scenario, then it refuses before any scenario runs', async () => {
    const state = tempDir('bench-needs-root');
    try {
      const scenario = parseScenario(
        [
          'name: cut',
          'phases:',
          '  - { type: load, rate: 10, duration: 1s, mix: [{ command: person.RegisterPerson }] }',
          '  - { type: fault, at: 0s, action: partition, target: n1, for: 1s }',
        ].join('\n'),
      );
      const config = loadConfig({ env: {}, flags: { stateDir: state.path } });
      await expect(
        runBench({ scenarios: [scenario], config, baselineMessages: 10, host: { platform: 'linux', uid: 1000 } }),
      ).rejects.toMatchObject({
        code: 'CIM-NEEDS-ROOT',
        message: expect.stringContaining('scenario cut (a network partition) needs root'),
      });
    } finally {
      state.remove();
    }
  });
});

describe('network namespaces of a cluster (ip recorded)', () => {
  it('creates a namespace per node on a bridge of its own slot, and removes every piece of it', async () => {
    const { ip, calls } = recorder((args) => args.join(' ') === 'link add cimbr0 type bridge', {
      '-o addr show': '1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 10.213.1.5/24 brd',
    });
    const set = await NetworkNamespaces.create(['n1', 'n2'], { ip, host: ROOT });
    // Slot 0 is taken by another run (its bridge exists), slot 1's subnet by the host: slot 2.
    expect(set.slot).toBe(2);
    expect(set.namespaces).toEqual(['cim2-n1', 'cim2-n2']);
    expect(set.address('n2')).toBe('10.213.2.2');
    expect(set.bridgeAddress).toBe('10.213.2.254');
    expect(set.execPrefix('n1')).toEqual(['ip', 'netns', 'exec', 'cim2-n1']);
    expect(calls).toContain('link add cimbr2 type bridge');
    expect(calls).toContain(`link set cimbr2 alias cim-netns pid=${process.pid}`);
    expect(calls).toContain('link add cim2n1 type veth peer name eth0 netns cim2-n1');
    expect(calls).toContain('-n cim2-n2 addr add 10.213.2.2/24 dev eth0');
    calls.length = 0;
    await set.destroy();
    await set.destroy();
    expect(calls).toEqual([
      'link del cim2n1',
      'link del cim2n2',
      'netns del cim2-n1',
      'netns del cim2-n2',
      'link del cimbr2',
    ]);
  });

  it('given a step that fails half way, then what was made is removed and CIM-CLUSTER-START says what failed', async () => {
    const { ip, calls } = recorder((args) => args.join(' ') === 'netns add cim0-n2');
    await expect(NetworkNamespaces.create(['n1', 'n2', 'n3'], { ip, host: ROOT })).rejects.toMatchObject({
      code: 'CIM-CLUSTER-START',
      message: expect.stringContaining('could not set up network namespaces: ip netns add cim0-n2: failed'),
    });
    expect(calls.slice(calls.indexOf('netns add cim0-n2') + 1)).toEqual([
      'link del cim0n1',
      'link del cim0n2',
      'link del cim0n3',
      'netns del cim0-n1',
      'netns del cim0-n2',
      'netns del cim0-n3',
      'link del cimbr0',
    ]);
  });

  it('cuts both directions between groups, a node from clients by the bridge address, and heals exactly that', async () => {
    const { ip, calls } = recorder();
    const set = await NetworkNamespaces.create(['n1', 'n2', 'n3'], { ip, host: ROOT });
    calls.length = 0;
    await set.partition([['n2'], ['n1', 'n3']], ['n2']);
    const cuts = [
      '-n cim0-n1 route add blackhole 10.213.0.2/32',
      '-n cim0-n2 route add blackhole 10.213.0.1/32',
      '-n cim0-n2 route add blackhole 10.213.0.3/32',
      '-n cim0-n3 route add blackhole 10.213.0.2/32',
      '-n cim0-n2 route add blackhole 10.213.0.254/32',
    ];
    expect(calls).toEqual(cuts);
    expect(set.inForce).toEqual([
      'n1→10.213.0.2',
      'n2→10.213.0.1',
      'n2→10.213.0.3',
      'n3→10.213.0.2',
      'n2→10.213.0.254',
    ]);
    calls.length = 0;
    await set.heal();
    expect(calls).toEqual(cuts.map((c) => c.replace(' add ', ' del ')));
    expect(set.inForce).toEqual([]);
    await set.destroy();
  });

  it('finds the sets of runs that are gone by the owner pid on their bridge, with their namespaces', async () => {
    const { ip } = recorder(() => false, {
      '-o link show type bridge': [
        `7: cimbr3: <BROADCAST> mtu 1500 state DOWN\\    link/ether 82:99 brd ff\\    alias cim-netns pid=${process.pid}`,
        '8: cimbr4: <BROADCAST> mtu 1500 state DOWN\\    link/ether 82:98 brd ff\\    alias cim-netns pid=999999999',
        '9: docker0: <BROADCAST> mtu 1500 state DOWN\\    link/ether 82:97 brd ff',
      ].join('\n'),
      'netns list': 'cim3-n1 (id: 1)\ncim4-n1 (id: 2)\ncim4-n2\nother',
    });
    expect(await staleSets(ip)).toEqual([{ slot: 4, bridge: 'cimbr4', namespaces: ['cim4-n1', 'cim4-n2'] }]);
  });
});
