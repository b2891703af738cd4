// The shipped catalog: every file validates against the reference domains, the suites hold what
// the docs promise, and list/show render it.
import { describe, expect, it } from 'vitest';
import { referenceDomains } from '../../appliance/index.js';
import {
  defaultCatalogDir,
  estimatedDurationMs,
  findScenarios,
  knownNames,
  loadCatalog,
  renderScenario,
  renderScenarioList,
  type FaultPhase,
  type LoadPhase,
  type Scenario,
} from '../../scenarios/index.js';

const known = knownNames(referenceDomains);
const catalog = loadCatalog(defaultCatalogDir(), { known });
const byName = (name: string): Scenario => catalog.find((s) => s.name === name)!;

/** Commands the runner can generate valid data for (the catalog uses only these). */
const GENERATED = new Set([
  'person.RegisterPerson',
  'person.RenamePerson',
  'person.ChangePersonEmail',
  'organization.CreateOrganization',
  'organization.RenameOrganization',
  'organization.AddMember',
  'workflow.StartWorkflow',
  'workflow.AdvanceWorkflow',
]);

describe('the shipped catalog', () => {
  it('given the reference domains, when the catalog loads, then every file validates', () => {
    expect(catalog.map((s) => s.name).sort()).toEqual([
      'appliance-restart',
      'burst',
      'cluster-restart',
      'durability-bit-flips',
      'durability-kill-all',
      'durability-kill-all-sync-always',
      'durability-truncation',
      'follower-corruption',
      'http-vs-nats',
      'leader-kill',
      'node-pause',
      'partition-flap',
      'partition-follower',
      'partition-leader',
      'projection-rebuild',
      'quick-leader-kill',
      'quick-replay',
      'quick-steady',
      'ramp-to-saturation',
      'steady-mixed',
      'time-travel',
    ]);
  });

  it('gives every scenario a description, its file, and a 3-node R3 cluster (one with sync_interval always)', () => {
    for (const s of catalog) {
      expect(s.description.length, s.name).toBeGreaterThan(80);
      expect(s.file, s.name).toMatch(new RegExp(`${s.name}\\.yaml$`));
      const { syncInterval, ...shape } = s.cluster;
      expect(shape, s.name).toEqual({ nodes: 3, replicas: 3 });
      expect(syncInterval, s.name).toBe(s.name === 'durability-kill-all-sync-always' ? 'always' : undefined);
    }
  });

  it('uses only commands the runner generates data for', () => {
    const loads = catalog.flatMap((s) => s.phases).filter((p): p is LoadPhase => p.type === 'load');
    for (const load of loads) for (const m of load.mix) expect(GENERATED).toContain(m.command);
  });

  it('puts eleven scenarios in the standard suite and three in the quick suite', () => {
    expect(findScenarios(['standard'], { known }).map((s) => s.name)).toHaveLength(11);
    expect(findScenarios(['quick'], { known }).map((s) => s.name)).toEqual([
      'quick-leader-kill',
      'quick-replay',
      'quick-steady',
    ]);
  });

  it('keeps the quick suite well under a minute of fixed-length phases', () => {
    const quick = catalog.filter((s) => s.suites.includes('quick'));
    const known = quick.map((s) => estimatedDurationMs(s)).filter((ms): ms is number => ms !== undefined);
    expect(known.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(30_000);
    for (const s of quick) expect(s.cluster.nodes).toBe(3);
  });

  it('checks no loss in follower-corruption, so what the checker finds is reported, not asserted away', () => {
    const s = byName('follower-corruption');
    expect(s.phases.some((p) => p.type === 'check' && p.expect.some((a) => a.metric === 'lost'))).toBe(false);
    const fault = s.phases.find((p): p is FaultPhase => p.type === 'fault')!;
    expect(fault).toMatchObject({
      action: 'corrupt',
      at: 10_000,
      target: { followerOf: 'CIM_PERSON' },
      corruption: { stream: 'CIM_PERSON', mode: 'flip-bits', bytes: 64 },
    });
  });

  it('kills the CIM_PERSON leader in leader-kill at 10 s for 5 s', () => {
    expect(byName('leader-kill').phases[1]).toMatchObject({
      type: 'fault',
      action: 'kill',
      at: 10_000,
      for: 5_000,
      target: { leaderOf: 'CIM_PERSON' },
    });
    expect(estimatedDurationMs(byName('leader-kill'))).toBe(30_000);
  });

  it('keeps the partition scenarios in a suite of their own (they need root), each asserting no loss', () => {
    const partition = findScenarios(['partition'], { known });
    expect(partition.map((s) => s.name)).toEqual(['partition-flap', 'partition-follower', 'partition-leader']);
    for (const s of partition) {
      expect(s.suites, s.name).toEqual(['partition']);
      const check = s.phases.find((p) => p.type === 'check')!;
      expect(check.type === 'check' && check.expect.map((a) => a.text), s.name).toEqual([
        'lost == 0',
        'unexpected == 0',
        'duplicates == 0',
      ]);
    }
    expect(byName('partition-leader').phases[1]).toMatchObject({
      action: 'partition',
      at: 10_000,
      for: 10_000,
      cut: 'peers',
      target: { leaderOf: 'CIM_PERSON' },
    });
    expect(byName('partition-follower').phases[1]).toMatchObject({
      cut: 'peers-and-clients',
      target: { followerOf: 'CIM_PERSON' },
    });
    expect(byName('partition-flap').phases[1]).toMatchObject({ flap: { times: 4, on: 3_000, off: 3_000 } });
    expect(byName('partition-flap').phases[1]).not.toHaveProperty('for');
  });

  it('lists every scenario in one aligned table', () => {
    const text = renderScenarioList(catalog);
    const lines = text.split('\n');
    expect(lines).toHaveLength(catalog.length + 1);
    const column = lines[0]!.indexOf('SUITES');
    for (const line of lines.slice(1)) expect(line[column - 1]).toBe(' ');
    expect(text).toContain('kill the leader of CIM_PERSON');
  });
});

describe('cim scenario show', () => {
  it('given burst, then it names the cluster, each phase with its timing, and what each check means', () => {
    const text = renderScenario(byName('burst'));
    expect(text).toContain('3 nodes, streams with 3 replicas');
    expect(text).toContain('1. steady (load), at the start, for 30s');
    expect(text).toContain('2. spike (load), at 10s');
    expect(text).toContain('5000 operations');
    expect(text).toContain('person.RenamePerson');
    expect(text).toMatch(/3\. verdict \(check\), after every earlier phase ended \(≥ 30s\)/);
    expect(text).toMatch(/lost == 0 +acknowledged events not found/);
  });

  it('given follower-corruption, then it says what the fault does to which replica', () => {
    expect(renderScenario(byName('follower-corruption'))).toContain(
      'stops a follower of CIM_PERSON, flips 64 random bits in the last block file of CIM_PERSON, starts it again',
    );
  });

  it('given the partition scenarios, then it says what is cut, for how long, and that it heals', () => {
    expect(renderScenario(byName('partition-leader'))).toContain(
      'cuts the leader of CIM_PERSON off from the other nodes (clients still reach it) for 10s, then heals it; the nodes keep running',
    );
    expect(renderScenario(byName('partition-follower'))).toContain(
      'cuts a follower of CIM_PERSON off from the other nodes and from every client (the appliance, the load, the monitor) for 10s',
    );
    const flap = renderScenario(byName('partition-flap'));
    expect(flap).toContain('4 times, 3s cut and 3s whole between cuts, then heals it');
    expect(flap).toContain('2. flap-leader (fault), at 8s, for 21s');
  });

  it('given a replay after a load of unknown length, then its start and the duration are not invented', () => {
    const text = renderScenario(byName('quick-replay'));
    expect(text).toContain('duration  unknown');
    expect(text).toContain('3. halfway (replay), after every earlier phase ended\n');
    expect(text).toContain('rebuilds person_directory from the start of its stream up to 50% of it');
    expect(text).toContain('(phase rebuild)');
  });
});
