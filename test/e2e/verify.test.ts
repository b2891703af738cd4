// `cim seal` and `cim verify` as a user runs them against the cluster `cim cluster up` left
// running: a sound store verifies (exit 0); after an event is deleted, or the head of a stream is
// purged, verify exits 1 and names exactly what it found, by stream sequence.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectNats,
  decodeEnvelope,
  domainStream,
  EMPTY_HEAD,
  EventStore,
  provision,
  Signer,
  SnapshotStore,
  type AggregateHead,
  type ClusterStatus,
  type DomainVerification,
} from '../../appliance/index.js';
import { runCli } from '../support/cli.js';
import { expectFindings } from '../support/findings.js';
import { stateEndpoint } from '../support/roles.js';
import { tempDir } from '../support/temp-dir.js';

let work: ReturnType<typeof tempDir>;
let state: string;
let urls: string[];

async function append(
  nc: Awaited<ReturnType<typeof connectNats>>,
  domain: string,
  aggregate: string,
  count: number,
  aggregates: number,
) {
  const store = await EventStore.open(nc);
  const heads = new Map<string, AggregateHead>();
  for (let i = 0; i < count; i++) {
    const id = `p${i % aggregates}`;
    const [e] = await store.append(
      { domain, aggregate, aggregateId: id },
      heads.get(id) ?? EMPTY_HEAD,
      [{ type: 'Renamed', payload: { i } }],
      { correlationId: 'c', causationId: 'c', actor: 'e2e' },
    );
    heads.set(id, { seq: e!.seq, cid: e!.cid, streamSeq: e!.streamSeq });
  }
}

beforeAll(async () => {
  work = tempDir('verify-cli');
  state = join(work.path, 'state');
  const up = await runCli(['--state', state, 'cluster', 'up', '--nodes', '1', '--json']);
  expect(up.code, up.stderr).toBe(0);
  urls = (JSON.parse(up.stdout) as ClusterStatus).servers.map((s) => s.url);
  const nc = await connectNats(stateEndpoint(state, 'operator', urls));
  try {
    // The reference domains, as `cim serve` provisions them: verify expects every served stream.
    await provision(nc, { domains: ['person', 'organization', 'workflow'], replicas: 1, duplicateWindowMs: 60_000 });
    await append(nc, 'person', 'Person', 30, 3);
  } finally {
    await nc.close();
  }
});

afterAll(async () => {
  if (state) await runCli(['--state', state, 'cluster', 'down']);
  work?.remove();
});

interface VerifyJson {
  ok: boolean;
  findings: number;
  domains: DomainVerification[];
}

describe('cim seal and cim verify', () => {
  it('seals the domain with the state dir key, then verifies it: exit 0, no findings', async () => {
    const sealed = await runCli(['--state', state, 'seal', '--json']);
    expect(sealed.code, sealed.stderr).toBe(0);
    const seals = JSON.parse(sealed.stdout) as {
      signer: string;
      seals: { domain: string; fromSeq: number; toSeq: number; count: number }[];
    };
    expect(seals.seals).toEqual([expect.objectContaining({ domain: 'person', fromSeq: 1, toSeq: 30, count: 30 })]);

    const verified = await runCli(['--state', state, 'verify', '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    const report = JSON.parse(verified.stdout) as {
      ok: boolean;
      trustedKeys: string[];
      domains: { domain: string; events: number; sealedEvents: number }[];
    };
    expect(report.ok).toBe(true);
    expect(report.trustedKeys).toEqual([seals.signer]);
    expect(report.domains).toEqual([
      expect.objectContaining({ domain: 'organization', events: 0, findings: [] }),
      expect.objectContaining({ domain: 'person', events: 30, sealedEvents: 30, findings: [] }),
      expect.objectContaining({ domain: 'workflow', events: 0, findings: [] }),
    ]);
  });

  it('with --snapshots, names a snapshot not signed by a trusted key whose state is not the fold of its chain', async () => {
    const clean = await runCli(['--state', state, 'verify', '--snapshots']);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/snapshots: 0 checked .* — ok/);

    const nc = await connectNats(stateEndpoint(state, 'operator', urls));
    try {
      const head = await (await EventStore.open(nc)).head({ domain: 'person', aggregateId: 'p0' });
      await new SnapshotStore(nc).put(
        {
          v: 1,
          domain: 'person',
          aggregateId: 'p0',
          seq: head.seq,
          cid: head.cid!,
          streamSeq: head.streamSeq,
          at: '2024-01-01T00:00:00.000Z',
          state: { status: 'archived' },
        },
        Signer.ephemeral(),
      );
    } finally {
      await nc.close();
    }
    const verified = await runCli(['--state', state, 'verify', '--snapshots']);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toMatch(/snapshots: 1 checked .* — 2 findings/);
    expect(verified.stdout).toMatch(
      /snapshot-signature CIM_PERSON seq \d+ p0: snapshot cim_snapshots\/person.p0 is signed by a key that is not trusted/,
    );
    expect(verified.stdout).toMatch(/snapshot-mismatch CIM_PERSON seq \d+ p0/);
    // Without the flag, snapshots are not looked at.
    expect((await runCli(['--state', state, 'verify'])).code).toBe(0);
  });

  it('after an event is deleted, exits 1 and names the stream sequence', async () => {
    const nc = await connectNats(stateEndpoint(state, 'operator', urls));
    try {
      await (await nc.jetstreamManager()).streams.deleteMessage(domainStream('person'), 11);
    } finally {
      await nc.close();
    }
    const verified = await runCli(['--state', state, 'verify']);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toMatch(/missing-event\s+CIM_PERSON seq 11/);
    expect(verified.stdout).toMatch(/seal-mismatch/);
    expect(verified.stdout).toMatch(/chain-broken\s+CIM_PERSON seq 14 p1/); // p1's next event after the deleted one

    const json = await runCli(['--state', state, 'verify', '--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as VerifyJson;
    expect(report).toMatchObject({ ok: false, findings: 3 });
    expectFindings(
      report.domains.find((d) => d.domain === 'person')!,
      [
        { kind: 'missing-event', stream: 'CIM_PERSON', streamSeq: 11, expected: 'seq 11..11', actual: 'absent' },
        {
          kind: 'chain-broken',
          stream: 'CIM_PERSON',
          streamSeq: 14,
          aggregateId: 'p1',
          expected: expect.stringMatching(/^seq 4 after /),
          actual: expect.stringMatching(/^seq 5 after /),
        },
        {
          kind: 'seal-mismatch',
          stream: 'CIM_PERSON',
          streamSeq: 1,
          expected: expect.stringMatching(/^30 events, root /),
          actual: expect.stringMatching(/^29 events, root /),
        },
      ],
    );
  });

  it("after the head of a stream with no retention policy is purged, exits 1 naming events-removed at the stream's new first sequence", async () => {
    const nc = await connectNats(stateEndpoint(state, 'operator', urls));
    let p0: string;
    let p1: string;
    try {
      await append(nc, 'organization', 'Organization', 6, 2); // p0 at seqs 1, 3, 5; p1 at 2, 4, 6
      const jsm = await nc.jetstreamManager();
      p0 = decodeEnvelope((await jsm.streams.getMessage(domainStream('organization'), { seq: 3 })).data).cid.toString();
      p1 = decodeEnvelope((await jsm.streams.getMessage(domainStream('organization'), { seq: 4 })).data).cid.toString();
      await jsm.streams.purge(domainStream('organization'), { seq: 5 });
    } finally {
      await nc.close();
    }
    const verified = await runCli(['--state', state, 'verify', '--domain', 'organization']);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toMatch(
      /events-removed\s+CIM_ORGANIZATION seq 5: CIM_ORGANIZATION starts at seq 5 but has no retention policy: events 1\.\.4 were removed/,
    );

    const json = await runCli(['--state', state, 'verify', '--domain', 'organization', '--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as VerifyJson;
    expect(report.domains.map((d) => d.domain)).toEqual(['organization']);
    expectFindings(report.domains[0]!, [
      { kind: 'events-removed', stream: 'CIM_ORGANIZATION', streamSeq: 5, expected: '1', actual: '5' },
      {
        kind: 'chain-broken',
        stream: 'CIM_ORGANIZATION',
        streamSeq: 5,
        aggregateId: 'p0',
        expected: 'seq 1',
        actual: `seq 3 after ${p0}`,
      },
      {
        kind: 'chain-broken',
        stream: 'CIM_ORGANIZATION',
        streamSeq: 6,
        aggregateId: 'p1',
        expected: 'seq 1',
        actual: `seq 3 after ${p1}`,
      },
    ]);
  });

  it('given a domain that has no stream, exits 2 with an error code and no stack trace', async () => {
    const result = await runCli(['--state', state, 'verify', '--domain', 'nosuch']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cim: error CIM-NOT-FOUND: domain nosuch has no stream CIM_NOSUCH');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('given a key file that is no key, exits 2 naming the file', async () => {
    const result = await runCli(['--state', state, 'verify', '--key', join(work.path, 'missing.pem')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('CIM-INVALID-INPUT');
    expect(result.stderr).toContain('missing.pem');
  });

  it("given a served domain's stream deleted, exits 1 naming it stream-missing; --domain names it too", async () => {
    const nc = await connectNats(stateEndpoint(state, 'operator', urls));
    try {
      await (await nc.jetstreamManager()).streams.delete(domainStream('workflow'));
    } finally {
      await nc.close();
    }
    const json = await runCli(['--state', state, 'verify', '--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as VerifyJson;
    expectFindings(
      report.domains.find((d) => d.domain === 'workflow')!,
      [
        {
          kind: 'stream-missing',
          stream: 'CIM_WORKFLOW',
          message: 'CIM_WORKFLOW does not exist, but the appliance serves workflow: its events are gone',
        },
      ],
    );
    const one = await runCli(['--state', state, 'verify', '--domain', 'workflow']);
    expect(one.code).toBe(1);
    expect(one.stdout).toMatch(/stream-missing\s+CIM_WORKFLOW: CIM_WORKFLOW does not exist/);
  });

  it('given the seal stream deleted, exits 1 naming it; made anew and empty, names the seals an earlier verification saw', async () => {
    const nc = await connectNats(stateEndpoint(state, 'operator', urls));
    try {
      await (await nc.jetstreamManager()).streams.delete('CIM_SEALS');
      const gone = await runCli(['--state', state, 'verify', '--json']);
      expect(gone.code).toBe(1);
      const report = JSON.parse(gone.stdout) as VerifyJson & { streams: DomainVerification['findings'] };
      expectFindings({ findings: report.streams, findingsOmitted: 0 } as DomainVerification, [
        {
          kind: 'stream-missing',
          stream: 'CIM_SEALS',
          message: expect.stringMatching(/^CIM_SEALS is missing while CIM_ORGANIZATION, CIM_PERSON exist/),
        },
      ]);

      // Provisioned again, as the next `cim serve` would: the streams are back, empty.
      await provision(nc, { domains: ['person', 'organization', 'workflow'], replicas: 1, duplicateWindowMs: 60_000 });
    } finally {
      await nc.close();
    }
    const json = await runCli(['--state', state, 'verify', '--json', '--domain', 'person']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as VerifyJson;
    expect(report.domains[0]!.findings).toContainEqual(
      expect.objectContaining({
        kind: 'seals-removed',
        stream: 'CIM_SEALS',
        expected: '≥ 1 seals',
        actual: '0 seals',
        message: expect.stringContaining('an earlier verification saw 1'),
      }),
    );
    const workflow = await runCli(['--state', state, 'verify', '--domain', 'workflow']);
    expect(workflow.code, workflow.stdout).toBe(0); // made anew and empty, as the earlier verification saw it
  });

  it('given a stream deleted and made anew, exits 1: it holds less than an earlier verification saw', async () => {
    const nc = await connectNats(stateEndpoint(state, 'operator', urls));
    try {
      await (await nc.jetstreamManager()).streams.delete(domainStream('person'));
      await provision(nc, { domains: ['person'], replicas: 1, duplicateWindowMs: 60_000 });
      await append(nc, 'person', 'Person', 2, 2);
    } finally {
      await nc.close();
    }
    const json = await runCli(['--state', state, 'verify', '--json', '--domain', 'person']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as VerifyJson;
    expect(report.domains[0]!.findings).toContainEqual(
      expect.objectContaining({
        kind: 'events-removed',
        stream: 'CIM_PERSON',
        streamSeq: 2,
        expected: 'last seq ≥ 30',
        actual: 'last seq 2',
      }),
    );
  });

  it('given a domain name that is no name, exits 2 before connecting', async () => {
    const result = await runCli(['--state', state, 'verify', '--domain', '../../x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cim: error CIM-INVALID-INPUT: domain "../../x"');
  });
});
