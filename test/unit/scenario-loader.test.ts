// The loader: every problem of a file at once, each at its exact line and column with its key,
// files and catalogs read from disk, and refs resolved to files, scenarios or suites.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCimError, referenceDomains } from '../../appliance/index.js';
import {
  ScenarioError,
  defaultCatalogDir,
  findScenarios,
  knownNames,
  loadCatalog,
  loadScenarioFile,
  parseScenario,
  type ScenarioIssue,
} from '../../scenarios/index.js';

const known = knownNames(referenceDomains);

/** The issues parseScenario throws for `text`, as `line:col path: message`. */
function issuesOf(text: string, withKnown = true): string[] {
  try {
    parseScenario(text, { file: 'steady.yaml', known: withKnown ? known : undefined });
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError);
    return (error as ScenarioError).issues.map((i: ScenarioIssue) => `${i.line}:${i.col} ${i.path}: ${i.message}`);
  }
  throw new Error('expected the scenario to be rejected');
}

const valid = `name: steady
description: a steady load
phases:
  - name: load-1
    type: load
    rate: 400
    duration: 30s
    mix:
      - command: person.RenamePerson
        weight: 3
  - type: check
    expect: ["lost == 0"]
`;

/** `valid` with line `n` (1-based) replaced. */
const withLine = (n: number, line: string): string =>
  valid
    .split('\n')
    .map((l, i) => (i === n - 1 ? line : l))
    .join('\n');

describe('scenario file errors', () => {
  it('given a rate of the wrong type, then it names file, line, column and key', () => {
    expect(() => parseScenario(withLine(6, '    rate: fast'), { file: 'steady.yaml' })).toThrow(
      'steady.yaml:6:11 phases[0].rate: expected a positive number or "max"',
    );
  });

  it('is CIM-INVALID-INPUT (exit 2) with a hint', () => {
    try {
      parseScenario(withLine(6, '    rate: -3'));
    } catch (error) {
      expect(isCimError(error, 'CIM-INVALID-INPUT')).toBe(true);
      expect((error as ScenarioError).exitCode).toBe(2);
      expect((error as ScenarioError).hint).toContain('cim scenario validate');
      expect((error as ScenarioError).message).toBe('<input>:6:11 phases[0].rate: expected a positive number or "max"');
      return;
    }
    throw new Error('expected a ScenarioError');
  });

  it('given an unknown key, then it points at the key and lists the keys the mapping takes', () => {
    expect(issuesOf(withLine(6, '    rte: 400'))).toEqual([
      '6:5 phases[0].rte: unknown key "rte"; this mapping takes name, at, type, driver, rate, concurrency, duration, count, mix, aggregates, payload_bytes',
    ]);
  });

  it('given a missing required field, then it points at the mapping that lacks it', () => {
    expect(issuesOf(valid + '  - type: replay\n    to: 50%\n')).toEqual([
      '13:5 phases[2].projection: missing: expected a projection name such as person_directory',
    ]);
    expect(issuesOf(withLine(1, 'title: steady'))).toEqual([
      '1:1 name: missing: expected a scenario name',
      '1:1 title: unknown key "title"; this mapping takes name, description, seed, seeds, suites, cluster, phases',
    ]);
  });

  it('given a bad duration, then it says which forms a duration takes', () => {
    expect(issuesOf(withLine(7, '    duration: 30 seconds'))).toEqual([
      '7:15 phases[0].duration: expected a duration such as "500ms", "20s", "2m", "1h" (a bare whole number is ms)',
    ]);
  });

  it('given a zero duration, then it asks for one above 0', () => {
    expect(issuesOf(withLine(7, '    duration: 0s'))).toEqual(['7:15 phases[0].duration: expected a duration above 0']);
  });

  it('given an unknown command, then it lists the commands the domains serve', () => {
    const [issue] = issuesOf(withLine(9, '      - command: person.RenamePersn'));
    expect(issue).toMatch(
      /^9:18 phases\[0\]\.mix\[0\]\.command: unknown command "person\.RenamePersn"; the served commands are organization\.AddMember, .*person\.RenamePerson/,
    );
  });

  it('accepts any well-formed command when no domains are known', () => {
    expect(() => parseScenario(withLine(9, '      - command: billing.Charge'))).not.toThrow();
  });

  it('given an unknown projection, then it lists the served projections', () => {
    expect(issuesOf(valid + '  - { type: replay, projection: people }\n')).toEqual([
      '13:33 phases[2].projection: unknown projection "people"; the served projections are organization_membership, person_directory, workflow_status',
    ]);
  });

  it('given a malformed assertion and an unknown metric, then each points at its list item', () => {
    const issues = issuesOf(withLine(12, '    expect: ["lost = 0", "latency < 5"]'));
    expect(issues[0]).toBe(
      '12:14 phases[1].expect[0]: expected "METRIC OP NUMBER" (OP one of <= >= == != < >), e.g. "lost == 0" or "load-1.p99_ms < 200"',
    );
    expect(issues[1]).toMatch(/^12:26 phases\[1\]\.expect\[1\]: unknown metric "latency"; the metrics are lost, /);
  });

  it('given an assertion on a phase that does not exist, then it lists the phases', () => {
    expect(issuesOf(withLine(12, '    expect: ["load-2.p99_ms < 200"]'))).toEqual([
      '12:14 phases[1].expect[0]: no phase is named "load-2"; the phases are load-1, check-2',
    ]);
  });

  it('given two phases with one name, then it points at the second', () => {
    expect(issuesOf(withLine(11, '  - name: load-1\n    type: check'))).toEqual([
      '11:11 phases[1].name: phase name "load-1" is already used by phases[0]',
    ]);
  });

  it('given a default name that collides with an explicit one, then it points at the unnamed phase', () => {
    expect(issuesOf(withLine(4, '  - name: check-2'))).toEqual([
      '11:5 phases[1]: phase name "check-2" is already used by phases[0]',
    ]);
  });

  it('given a target node outside the cluster, then it names the nodes there are', () => {
    expect(issuesOf(valid + '  - { type: fault, action: kill, target: n4 }\n')).toEqual([
      '13:42 phases[2].target: node n4 is not in the cluster; its nodes are n1…n3',
    ]);
  });

  it('given more replicas than nodes, then it points at replicas', () => {
    expect(issuesOf(valid + 'cluster:\n  nodes: 2\n  replicas: 3\n')).toEqual([
      '15:13 cluster.replicas: expected at most 2 replicas (one per node)',
    ]);
  });

  it('given both count and duration, then it points at count', () => {
    expect(issuesOf(withLine(7, '    duration: 30s\n    count: 100'))).toEqual([
      '8:12 phases[0].count: give either duration or count, not both',
    ]);
  });

  it('given neither count nor duration, then it points at the phase', () => {
    expect(issuesOf(withLine(7, ''))).toEqual(['4:5 phases[0]: a load phase needs duration (e.g. "30s") or count']);
  });

  it('given an unknown phase type, then it lists the types', () => {
    expect(issuesOf(withLine(5, '    type: soak'))).toEqual([
      '5:11 phases[0].type: expected type load, fault, replay or check',
    ]);
  });

  it('enforces which fields each fault action takes', () => {
    const issues = issuesOf(
      valid +
        [
          '  - { type: fault, action: restart-appliance, target: n1 }',
          '  - { type: fault, action: restart, target: all, for: 5s }',
          '  - { type: fault, action: kill }',
          '  - { type: fault, action: corrupt, target: leader of CIM_PERSON }',
          '',
        ].join('\n'),
    );
    expect(issues).toEqual([
      '13:55 phases[2].target: restart-appliance restarts the appliance, not a node: remove target',
      '14:55 phases[3].for: for is for kill, pause and partition only; restart has no duration',
      '15:5 phases[4].target: missing: kill needs a target (a node ("n2"), "leader of STREAM", "follower of STREAM" or "all")',
      '16:5 phases[5].corruption: missing: corrupt needs corruption {stream, mode, bytes}',
      '16:45 phases[5].target: corrupt damages one replica: expected "follower of STREAM" or a node ("n2")',
    ]);
  });

  it('given a partition with a target, a split or a flap, then it holds what the file says, with the defaults', () => {
    const phases = parseScenario(
      valid +
        [
          '  - { type: fault, name: p1, action: partition, target: leader of CIM_PERSON }',
          '  - { type: fault, name: p2, action: partition, target: n2, cut: peers-and-clients, for: 3s }',
          '  - { type: fault, name: p3, action: partition, split: [[n1], [n2, n3]], for: 2s }',
          '  - { type: fault, name: p4, action: partition, target: follower of CIM_PERSON, flap: { times: 3, on: 2s, off: 500ms } }',
          '',
        ].join('\n'),
    ).phases.slice(2);
    expect(phases).toEqual([
      { name: 'p1', type: 'fault', action: 'partition', target: { leaderOf: 'CIM_PERSON' }, cut: 'peers', for: 10_000 },
      { name: 'p2', type: 'fault', action: 'partition', target: { node: 'n2' }, cut: 'peers-and-clients', for: 3_000 },
      { name: 'p3', type: 'fault', action: 'partition', split: [['n1'], ['n2', 'n3']], for: 2_000 },
      {
        name: 'p4',
        type: 'fault',
        action: 'partition',
        target: { followerOf: 'CIM_PERSON' },
        cut: 'peers',
        flap: { times: 3, on: 2_000, off: 500 },
      },
    ]);
  });

  it('enforces which fields a partition takes, and that a split covers the cluster', () => {
    const issues = issuesOf(
      valid +
        [
          '  - { type: fault, action: partition }',
          '  - { type: fault, action: partition, target: all }',
          '  - { type: fault, action: partition, target: n1, split: [[n1], [n2, n3]] }',
          '  - { type: fault, action: partition, split: [[n1], [n2]], cut: peers }',
          '  - { type: fault, action: partition, split: [[n1], [n2, n7]] }',
          '  - { type: fault, action: partition, split: [[n1, n2], [n2, n3]] }',
          '  - { type: fault, action: partition, split: [[n1, n2, n3]] }',
          '  - { type: fault, action: partition, target: n1, cut: everything }',
          '  - { type: fault, action: partition, target: n1, for: 2s, flap: { times: 0, on: 0s, off: 1s } }',
          '  - { type: fault, action: kill, target: n1, cut: peers, flap: { times: 2, on: 1s, off: 1s } }',
          '',
        ].join('\n'),
    );
    expect(issues).toEqual([
      '13:5 phases[2].target: missing: partition needs a target (a node ("n2"), "leader of STREAM", "follower of STREAM") or a split ([[n1], [n2, n3]])',
      '14:47 phases[3].target: a partition cuts one node off from the others: expected a node ("n2"), "leader of STREAM" or "follower of STREAM"; to cut the cluster into groups use split',
      '15:51 phases[4].split: a partition cuts off its target or splits the cluster into groups, not both: remove target or split',
      '16:39 phases[5].split: every node goes into one group; n3 is in none',
      '16:65 phases[5].cut: cut is for a partition with a target; a split cuts between its groups only, clients reach every group',
      '17:39 phases[6].split: n7 is not in the cluster; its nodes are n1…n3',
      '18:39 phases[7].split: node n2 is in more than one group',
      '19:39 phases[8].split: expected groups of nodes such as [[n1], [n2, n3]]: two or more, each a list of node names',
      '20:56 phases[9].cut: expected one of peers, peers-and-clients',
      '21:56 phases[10].for: a flapping partition lasts as its flap says (times, on, off): remove for',
      '21:75 phases[10].flap.times: expected a whole number from 1 to 100',
      '21:82 phases[10].flap.on: expected a duration above 0',
      '22:51 phases[11].cut: cut is for action partition only',
      '22:58 phases[11].flap: flap is for action partition only',
    ]);
  });

  it('refuses a partition of a single-node cluster', () => {
    const text =
      valid.replace('phases:', 'cluster: { nodes: 1 }\nphases:') +
      '  - { type: fault, action: partition, target: n1 }\n';
    expect(issuesOf(text)).toEqual([
      expect.stringMatching(/phases\[2\]\.action: a partition needs at least 2 nodes; the cluster has 1$/),
    ]);
  });

  it('enforces mix for command drivers and its absence for raw', () => {
    expect(issuesOf(withLine(8, '    driver: raw\n    mix:'))).toEqual([
      '9:5 phases[0].mix: driver raw publishes plain messages and takes no mix',
    ]);
    expect(issuesOf(valid + '  - { type: load, count: 5 }\n')).toEqual([
      '13:5 phases[2].mix: missing: driver nats needs a mix of commands',
    ]);
  });

  it('given a YAML syntax error, then it gives its line and column', () => {
    expect(issuesOf(withLine(6, '    rate: [400'))[0]).toBe(
      '7:5 : YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]',
    );
    expect(issuesOf(withLine(6, '    duration: 400'))).toEqual([
      expect.stringMatching(/^7:5 : YAML syntax: Map keys must be unique/),
    ]);
  });

  it('given an empty file, then it says what a scenario needs', () => {
    expect(issuesOf('')).toEqual(['1:1 : the file is empty; expected a mapping with name, description, phases']);
  });

  it('reports every problem of the file at once, in line order', () => {
    const text = withLine(1, 'name: Steady').replace('rate: 400', 'rate: 0').replace('weight: 3', 'weight: 0');
    expect(issuesOf(text + '  - { type: fault, action: kill, target: n9 }\n').map((i) => i.split(' ')[0])).toEqual([
      '1:7',
      '6:11',
      '10:17',
      '13:42',
    ]);
  });
});

describe('files, catalogs and refs', () => {
  let dir: string;
  let catalogDir: string;
  const scenario = (name: string, suites: string[]) =>
    `name: ${name}\nsuites: [${suites.join(', ')}]\nphases:\n  - { type: load, driver: raw, count: 10 }\n`;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cim-scenarios-'));
    catalogDir = join(dir, 'catalog');
    mkdirSync(catalogDir);
    writeFileSync(join(catalogDir, 'b.yaml'), scenario('beta', ['quick', 'standard']));
    writeFileSync(join(catalogDir, 'a.yml'), scenario('alpha', ['standard']));
    writeFileSync(join(catalogDir, 'c.yaml'), scenario('gamma', ['soak']));
    writeFileSync(join(catalogDir, 'notes.txt'), 'not a scenario');
    writeFileSync(join(dir, 'mine.yaml'), scenario('mine', []));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a file and remembers where it came from', () => {
    const file = join(dir, 'mine.yaml');
    expect(loadScenarioFile(file)).toMatchObject({ name: 'mine', file });
  });

  it('given a missing file, then CIM-NOT-FOUND', () => {
    expect(() => loadScenarioFile(join(dir, 'none.yaml'))).toThrow(expect.objectContaining({ code: 'CIM-NOT-FOUND' }));
  });

  it('loads every *.yaml and *.yml of a catalog, sorted by file name', () => {
    expect(loadCatalog(catalogDir).map((s) => s.name)).toEqual(['alpha', 'beta', 'gamma']);
  });

  it('given two catalog files with one name and a broken file, then every issue is reported at once', () => {
    const broken = join(dir, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'one.yaml'), scenario('same', []));
    writeFileSync(join(broken, 'two.yaml'), scenario('same', []));
    writeFileSync(join(broken, 'three.yaml'), 'name: three\nphases: []\n');
    try {
      loadCatalog(broken);
      throw new Error('expected the catalog to be rejected');
    } catch (error) {
      expect(error).toBeInstanceOf(ScenarioError);
      expect((error as ScenarioError).message.split('\n')).toEqual([
        `${join(broken, 'three.yaml')}:2:1 phases: expected at least one phase`,
        `${join(broken, 'two.yaml')}:1:7 name: scenario name "same" is already used by ${join(broken, 'one.yaml')}`,
      ]);
    }
  });

  it('resolves a file path, a scenario name and a suite, each scenario once', () => {
    const found = findScenarios([join(dir, 'mine.yaml'), 'gamma', 'standard', 'beta'], { catalogDir });
    expect(found.map((s) => s.name)).toEqual(['mine', 'gamma', 'alpha', 'beta']);
  });

  it('given a ref that is no file, scenario or suite, then CIM-NOT-FOUND lists what exists', () => {
    try {
      findScenarios(['nightly'], { catalogDir });
      throw new Error('expected CIM-NOT-FOUND');
    } catch (error) {
      expect(isCimError(error, 'CIM-NOT-FOUND')).toBe(true);
      expect((error as Error).message).toBe('no scenario file, scenario or suite "nightly"');
      expect((error as { hint: string }).hint).toBe(
        'Scenarios: alpha, beta, gamma. Suites: quick, soak, standard. Or give the path of a scenario file.',
      );
    }
  });

  it('finds the shipped catalog from the source tree and from a built dist/scenarios module', () => {
    expect(defaultCatalogDir()).toMatch(/scenarios[/\\]catalog$/);
    const root = join(defaultCatalogDir(), '..', '..');
    expect(defaultCatalogDir(new URL(`file://${join(root, 'dist', 'scenarios', 'loader.js')}`).href)).toBe(
      join(root, 'scenarios', 'catalog'),
    );
  });
});
