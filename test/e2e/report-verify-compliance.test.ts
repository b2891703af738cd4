// `cim report verify` on the three compliance reports, end to end and offline (no NATS): the real
// CLI on a ledger the product's writer filled. Each report verifies with the state dir's key and
// with the verifier key given as `--key <vkey>`; another vkey, a changed checkpoint note and a
// changed rendering each fail, naming what does not hold.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigner, Signer } from '../../appliance/index.js';
import { writeComplianceReports, type WrittenComplianceReports } from '../../compliance/index.js';
import { checkpointOrigin, verifierKey } from '../../reports/index.js';
import { complianceInput, fixtureLeaves } from '../fixtures/compliance-reports.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/temp-dir.js';

let work: ReturnType<typeof tempDir>;
let state: string;
let first: WrittenComplianceReports;
let second: WrittenComplianceReports;

beforeAll(() => {
  work = tempDir('report-verify-compliance');
  state = join(work.path, 'state');
  const signer = loadOrCreateSigner(state);
  first = writeComplianceReports(complianceInput(), { stateDir: state, signer });
  second = writeComplianceReports(
    complianceInput({ over: { leaves: [...fixtureLeaves(12), ...fixtureLeaves(3, 50)] } }),
    { stateDir: state, signer },
  );
});
afterAll(() => work?.remove());

const CLI_MS = 30_000;
const verify = (...args: string[]) => runCli(['--state', state, 'report', 'verify', ...args], { timeoutMs: CLI_MS });

describe('cim report vkey', () => {
  it(
    'prints the verifier key of the checkpoint notes',
    async () => {
      const result = await runCli(['--state', state, 'report', 'vkey'], { timeoutMs: CLI_MS });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim()).toBe(second.vkey);
    },
    CLI_MS,
  );
});

describe('cim report verify on compliance, retention and audit reports', () => {
  it(
    'verifies each with the state dir key: signature, files, chain, consistency proof and signed note',
    async () => {
      for (const kind of ['compliance', 'retention', 'audit'] as const) {
        const cid = second[kind].named.cid.toString();
        const result = await verify(cid);
        expect(result.code, result.stdout + result.stderr).toBe(0);
        expect(result.stdout).toContain(`ok: report ${cid} verifies`);
        expect(result.stdout).toContain(`checkpoint of 15 events extends the previous 12`);
        expect(result.stdout).toContain(
          `its checkpoint note (origin cim-appliance/cim/compliance, 15 events) is signed by cim-appliance/cim/compliance`,
        );
        expect(result.stdout).toContain(`${cid}.checkpoint: same as a fresh rendering`);
      }
    },
    3 * CLI_MS,
  );

  it(
    'verifies with the verifier key given, and fails with another one, naming the note',
    async () => {
      const cid = second.compliance.named.cid.toString();
      const ok = await verify(cid, '--key', second.vkey);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      const other = verifierKey(checkpointOrigin('cim'), Signer.ephemeral().publicKeyPem);
      const bad = await verify(cid, '--key', other, '--json');
      expect(bad.code).toBe(1);
      const parsed = JSON.parse(bad.stdout) as { ok: boolean; problems: string[] };
      expect(parsed.ok).toBe(false);
      expect(parsed.problems).toContainEqual(
        expect.stringMatching(
          new RegExp(`report ${cid}: its checkpoint note: signed note: no signature by a known key`),
        ),
      );
      const malformed = await verify(cid, '--key', `${second.vkey.slice(0, -4)}AAAA`);
      expect(malformed.code).toBe(2);
      expect(malformed.stderr).toMatch(/is no verifier key/);
    },
    3 * CLI_MS,
  );

  it(
    'names a changed checkpoint note and a changed rendering',
    async () => {
      const { files, named } = first.audit;
      for (const path of [files.checkpoint!, files.html!]) {
        chmodSync(path, 0o644);
        writeFileSync(path, readFileSync(path, 'utf8').replace(/cim-appliance/g, 'cim-appliance2'));
      }
      const result = await verify(named.cid.toString());
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(`FAILED: report ${named.cid.toString()}`);
      expect(result.stdout).toContain(`✗ ${files.checkpoint}: differs from the rendering of the verified report`);
      expect(result.stdout).toContain(`✗ ${files.html}: differs from the rendering of the verified report`);
    },
    CLI_MS,
  );
});

describe('cim report verify from the report files alone', () => {
  it(
    "verifies an auditor's copy of the files (no ledger, no state dir key) with the verifier key, prev chain included",
    async () => {
      const copy = join(work.path, 'auditor-copy');
      mkdirSync(copy);
      for (const written of [first, second])
        for (const kind of ['compliance', 'retention', 'audit'] as const)
          for (const path of Object.values(written[kind].files)) copyFileSync(path, join(copy, basename(path)));
      const empty = join(work.path, 'auditor-state');
      const offline = (...args: string[]) =>
        runCli(['--state', empty, 'report', 'verify', ...args], { timeoutMs: CLI_MS });
      for (const kind of ['compliance', 'retention', 'audit'] as const) {
        const cid = second[kind].named.cid.toString();
        const result = await offline(join(copy, `${cid}.cbor`), '--key', second.vkey);
        expect(result.code, result.stdout + result.stderr).toBe(0);
        expect(result.stdout).toContain(`read from ${copy}`);
        expect(result.stdout).toContain(`checkpoint of 15 events extends the previous 12`);
        expect(result.stdout).toContain(`${cid}.html: same as a fresh rendering`);
        expect(result.stdout).toMatch(new RegExp(`chain of 2 ${kind} report\\(s\\) back to the first`));
      }
      // Without the previous report's file the chain is broken, and said to be.
      const prev = first.audit.named.cid.toString();
      rmSync(join(copy, `${prev}.cbor`));
      const cid = second.audit.named.cid.toString();
      const broken = await offline(join(copy, `${cid}.cbor`), '--key', second.vkey);
      expect(broken.code).toBe(1);
      expect(broken.stdout).toContain(`prev ${prev} is not in ${copy} — the chain is broken`);
    },
    3 * CLI_MS,
  );
});
