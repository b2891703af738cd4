// `cim seal` and `cim verify` as a user runs them against the cluster `cim cluster up` left
// running: a sound store verifies (exit 0); after an event is deleted, verify exits 1 and names it.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, domainStream, EMPTY_HEAD, EventStore, provision, type AggregateHead, type ClusterStatus } from '../../appliance/index.js';
import { runCli } from '../support/cli.js';
import { fileTempDir } from '../support/temp-dir.js';

const work = fileTempDir('verify-cli');
const state = join(work.path, 'state');
let urls: string[];

beforeAll(async () => {
  const up = await runCli(['--state', state, 'cluster', 'up', '--nodes', '1', '--json']);
  expect(up.code, up.stderr).toBe(0);
  urls = (JSON.parse(up.stdout) as ClusterStatus).servers.map((s) => s.url);
  const nc = await connectNats({ servers: urls });
  try {
    await provision(nc, { domains: ['person'], replicas: 1, duplicateWindowMs: 60_000 });
    const store = await EventStore.open(nc);
    const heads = new Map<string, AggregateHead>();
    for (let i = 0; i < 30; i++) {
      const id = `p${i % 3}`;
      const [e] = await store.append({ domain: 'person', aggregate: 'Person', aggregateId: id }, heads.get(id) ?? EMPTY_HEAD, [{ type: 'Renamed', payload: { i } }], { correlationId: 'c', causationId: 'c', actor: 'e2e' });
      heads.set(id, { seq: e!.seq, cid: e!.cid, streamSeq: e!.streamSeq });
    }
  } finally {
    await nc.close();
  }
});

afterAll(async () => {
  await runCli(['--state', state, 'cluster', 'down']);
  work.remove();
});

describe('cim seal and cim verify', () => {
  it('seals the domain with the state dir key, then verifies it: exit 0, no findings', async () => {
    const sealed = await runCli(['--state', state, 'seal', '--json']);
    expect(sealed.code, sealed.stderr).toBe(0);
    const seals = JSON.parse(sealed.stdout) as { signer: string; seals: { domain: string; fromSeq: number; toSeq: number; count: number }[] };
    expect(seals.seals).toEqual([expect.objectContaining({ domain: 'person', fromSeq: 1, toSeq: 30, count: 30 })]);

    const verified = await runCli(['--state', state, 'verify', '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    const report = JSON.parse(verified.stdout) as { ok: boolean; trustedKeys: string[]; domains: { domain: string; events: number; sealedEvents: number }[] };
    expect(report.ok).toBe(true);
    expect(report.trustedKeys).toEqual([seals.signer]);
    expect(report.domains).toEqual([expect.objectContaining({ domain: 'person', events: 30, sealedEvents: 30 })]);
  });

  it('after an event is deleted, exits 1 and names the stream sequence', async () => {
    const nc = await connectNats({ servers: urls });
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
});
