// The table of nats-server releases with known data-loss bugs: each range is exact at its edges,
// a bug without a fixed release is reported at its severity on the releases it was shown on and
// as info after them, and the durability check's findings say the risk and the fix.
import { describe, expect, it } from 'vitest';
import { KNOWN_BUGS, knownBugsOf, serverFindings, streamFindings } from '../../compliance/index.js';

const ids = (version: string) => knownBugsOf(version).map((m) => `${m.bug.id}@${m.severity}`);

describe('the known-bugs table', () => {
  it('gives every entry a reference, a risk and a fix, and ids that name the upstream issue', () => {
    for (const bug of KNOWN_BUGS) {
      expect(bug.id).toMatch(/^nats-server#\d+$/);
      expect(bug.references.some((r) => r.includes(bug.id.split('#')[1]!))).toBe(true);
      expect(bug.risk.length).toBeGreaterThan(20);
      expect(bug.remedy.length).toBeGreaterThan(10);
      expect(bug.fixed !== undefined || (bug.shownOn ?? []).length > 0).toBe(true);
    }
  });

  it('holds 2.10.20 to 2.10.22 to the lost-streams bug, and neither 2.10.19 nor 2.10.23', () => {
    expect(ids('2.10.19')).not.toContain('nats-server#6888@critical');
    for (const v of ['2.10.20', '2.10.21', '2.10.22']) expect(ids(v)).toContain('nats-server#6888@critical');
    expect(ids('2.10.23').some((i) => i.startsWith('nats-server#6888'))).toBe(false);
  });

  it('holds releases before 2.9.21 to the expected-sequence race, and not 2.9.21 or 2.10.0', () => {
    expect(ids('2.9.10')).toContain('nats-server#4320@medium');
    expect(ids('2.9.20')).toContain('nats-server#4320@medium');
    expect(ids('2.9.21').some((i) => i.startsWith('nats-server#4320'))).toBe(false);
    expect(ids('2.10.0').some((i) => i.startsWith('nats-server#4320'))).toBe(false);
  });

  it('reports the findings of the 2.12.1 analysis as high on 2.12.1, as info on later releases, not at all on earlier ones', () => {
    const analysed = ['nats-server#7545', 'nats-server#7549', 'nats-server#7556', 'nats-server#7567'];
    expect(ids('2.12.1')).toEqual(expect.arrayContaining(analysed.map((id) => `${id}@high`)));
    expect(ids('2.15.3')).toEqual(expect.arrayContaining(analysed.map((id) => `${id}@info`)));
    expect(knownBugsOf('2.15.3').every((m) => m.severity === 'info')).toBe(true);
    expect(ids('2.10.27')).toEqual([]);
  });
});

describe('durability findings of a server', () => {
  it('names the server and the bug in a stable id, with the risk, the fix and the references', () => {
    const [finding] = serverFindings({ name: 'n2', version: '2.10.21', sync: 'always', source: 'varz' });
    expect(finding).toMatchObject({
      id: 'durability:known-bug:nats-server#6888:n2',
      check: 'durability',
      severity: 'critical',
    });
    expect(finding!.message).toMatch(/Risk: .*Fix: upgrade to nats-server 2\.10\.23/);
    expect(finding!.evidence).toMatchObject({ server: 'n2', version: '2.10.21', bug: 'nats-server#6888' });
  });

  it('finds the default sync_interval (acknowledged two minutes before disk) high, and always none', () => {
    const [finding] = serverFindings({ name: 'n1', version: '2.15.3', sync: 120_000, source: 'varz' }).filter((f) =>
      f.id.startsWith('durability:sync-interval'),
    );
    expect(finding).toMatchObject({ id: 'durability:sync-interval:n1', severity: 'high' });
    expect(finding!.message).toMatch(/every 120 s \(the default\).*sync_interval: always/);
    expect(
      serverFindings({ name: 'n1', version: '2.15.3', sync: 'always', source: 'varz' }).filter(
        (f) => f.severity !== 'info',
      ),
    ).toEqual([]);
  });

  it('says when the version or the sync policy could not be read', () => {
    const found = serverFindings({ name: 'nats://a:4222', version: undefined, sync: undefined, source: 'info' });
    expect(found.map((f) => [f.id, f.severity])).toEqual([
      ['durability:version-unknown:nats://a:4222', 'medium'],
      ['durability:sync-interval-unknown:nats://a:4222', 'low'],
    ]);
  });
});

describe('durability findings of a stream', () => {
  const stream = (config: Record<string, unknown>) =>
    ({ config: { name: 'CIM_PERSON', num_replicas: 3, storage: 'file', ...config } }) as never;

  it('passes an R3 file stream with none of the removing options', () => {
    expect(streamFindings(stream({}), 3)).toEqual([]);
  });

  it('names an R1 stream, memory storage, async persistence, delete markers, schedules, TTLs and rollups', () => {
    const found = streamFindings(
      stream({
        num_replicas: 1,
        storage: 'memory',
        persist_mode: 'async',
        subject_delete_marker_ttl: 60e9,
        allow_msg_schedules: true,
        allow_msg_ttl: true,
        allow_rollup_hdrs: true,
      }),
      3,
    );
    expect(found.map((f) => [f.id, f.severity])).toEqual([
      ['durability:replicas:CIM_PERSON', 'high'],
      ['durability:memory-storage:CIM_PERSON', 'high'],
      ['durability:persist-async:CIM_PERSON', 'high'],
      ['durability:delete-markers:CIM_PERSON', 'high'],
      ['durability:message-schedules:CIM_PERSON', 'high'],
      ['durability:message-ttl:CIM_PERSON', 'high'],
      ['durability:rollups:CIM_PERSON', 'high'],
    ]);
    expect(found[0]!.evidence).toEqual({ stream: 'CIM_PERSON', config: { num_replicas: 1, nodes: 3 } });
  });

  it('rates a KV bucket with fewer replicas medium, and says when the cluster is too small for three', () => {
    const [finding] = streamFindings(
      { config: { name: 'KV_cim_commands', num_replicas: 1, storage: 'file' } } as never,
      1,
    );
    expect(finding).toMatchObject({ id: 'durability:replicas:KV_cim_commands', severity: 'medium' });
    expect(finding!.message).toMatch(/the cluster has 1 node/);
  });
});
