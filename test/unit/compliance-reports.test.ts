// The three reports `cim comply` writes, with real files and a real ledger: each signed, chained to
// its kind's previous one, with a checkpoint whose consistency proof chains and whose signed note an
// independent verifier accepts with the verifier key the report shows; the renderings give the
// verdict and the findings (worst first) before the evidence; a tree that does not extend the
// previous one is never signed; and a changed file is named.
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Signer } from '../../appliance/index.js';
import { auditPeriodStart, writeComplianceReports } from '../../compliance/index.js';
import { Ledger, render, renderFiles, verifyReport, type WrittenReport } from '../../reports/index.js';
import { complianceInput, fixtureLeaves } from '../fixtures/compliance-reports.js';
import { verifyCheckpoint } from '../support/signed-note-verify.js';
import { tempDir } from '../support/temp-dir.js';

let dir: ReturnType<typeof tempDir>;
let signer: Signer;
const write = (input = complianceInput()) => writeComplianceReports(input, { stateDir: dir.path, signer });
const verify = (ref: string) => {
  const ledger = Ledger.open(dir.path);
  try {
    return verifyReport(ref, { stateDir: dir.path, ledger, trusted: [signer.verifier()], render: renderFiles });
  } finally {
    ledger.close();
  }
};
const kinds = ['compliance', 'retention', 'audit'] as const;

beforeEach(() => {
  dir = tempDir('compliance-reports');
  signer = Signer.ephemeral();
});
afterEach(() => dir.remove());

describe('writeComplianceReports', () => {
  it('writes three signed reports, each with a checkpoint note that the independent verifier accepts', () => {
    const written = write();
    expect(written.origin).toBe('cim-appliance/cim/compliance');
    expect(written.treeSize).toBe(12);
    for (const kind of kinds) {
      const { named, files } = written[kind];
      expect(named.report.kind).toBe(kind);
      expect(Object.keys(files).sort()).toEqual(['cbor', 'checkpoint', 'html', 'json', 'md']);
      expect(statSync(files.checkpoint!).mode & 0o777).toBe(0o444); // written once, read-only
      const checkpoint = verifyCheckpoint(readFileSync(files.checkpoint!), [written.vkey]);
      expect(checkpoint).toMatchObject({ origin: written.origin, size: 12 });
      expect(checkpoint.root.equals(Buffer.from(named.report.checkpoint!.root))).toBe(true);
      // The verifier key the rendering shows is the one that verifies.
      const shown = /verifier key `([^`]+)`/.exec(readFileSync(files.md!, 'utf8'))?.[1];
      expect(shown).toBe(written.vkey);
      expect(readFileSync(files.html!, 'utf8')).toContain(written.vkey);
      const result = verify(named.cid.toString());
      expect(result.problems).toEqual([]);
    }
    expect(written.retention.named.report.findings.map((f) => f.id)).toEqual(['retention:over-age:CIM_PERSON:3']);
    expect(written.audit.named.report.findings).toEqual([
      expect.objectContaining({ id: 'audit:events-removed:12', check: 'audit-completeness', severity: 'high' }),
    ]);
  });

  it('chains each kind, and the next checkpoint extends the previous one with a proof that verifies', () => {
    const first = write();
    const second = write(complianceInput({ over: { leaves: [...fixtureLeaves(12), ...fixtureLeaves(5, 100)] } }));
    for (const kind of kinds) {
      const next = second[kind].named.report;
      expect(next.prev?.toString()).toBe(first[kind].named.cid.toString());
      expect(next.checkpoint).toMatchObject({ treeSize: 17, previous: { treeSize: 12 } });
      const result = verify(second[kind].named.cid.toString());
      expect(result.problems).toEqual([]);
      expect(result.chain).toHaveLength(2);
      expect(result.checked.join('\n')).toMatch(/checkpoint of 17 events extends the previous 12/);
    }
  });

  it('given leaves that do not extend the previous tree, then each report keeps that tree head and says so, critically', () => {
    const first = write();
    const shorter = write(complianceInput({ over: { leaves: fixtureLeaves(8) } }));
    for (const kind of kinds) {
      const report = shorter[kind].named.report;
      expect(report.checkpoint).toMatchObject({ treeSize: 12, previous: { treeSize: 12 }, consistencyProof: [] });
      expect(Buffer.from(report.checkpoint!.root)).toEqual(Buffer.from(first[kind].named.report.checkpoint!.root));
      expect(report.findings).toContainEqual(
        expect.objectContaining({ id: 'checkpoint:not-extended', severity: 'critical', check: 'immutability' }),
      );
      expect(verify(shorter[kind].named.cid.toString()).problems).toEqual([]);
      expect(verifyCheckpoint(shorter[kind].named.report.checkpoint!.note!, [shorter.vkey]).size).toBe(12);
    }
  });

  it("starts the next audit period after the newest audit report's", () => {
    const none = Ledger.open(dir.path);
    expect(auditPeriodStart(none)).toEqual({ afterSeq: 0, previousReport: null });
    none.close();
    const { audit } = write();
    const ledger = Ledger.open(dir.path);
    try {
      expect(auditPeriodStart(ledger)).toEqual({ afterSeq: 40, previousReport: audit.named.cid.toString() });
    } finally {
      ledger.close();
    }
  });

  it('names a changed rendering or note file', () => {
    const { compliance } = write();
    for (const extension of ['md', 'checkpoint'] as const) {
      const path = compliance.files[extension]!;
      chmodSync(path, 0o644);
      writeFileSync(path, readFileSync(path, 'utf8').replace('cim-appliance', 'cim-appliancE'));
    }
    const result = verify(compliance.named.cid.toString());
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      `${compliance.files.md}: differs from the rendering of the verified report — the file was changed`,
      `${compliance.files.checkpoint}: differs from the rendering of the verified report — the file was changed`,
    ]);
  });
});

describe('the renderings of the three kinds', () => {
  const order = (text: string, parts: string[]) => {
    const at = parts.map((p) => text.indexOf(p));
    expect(
      at.every((i) => i >= 0),
      `all of ${parts.join(' | ')} in the rendering`,
    ).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  };
  let written: ReturnType<typeof write>;
  const file = (r: WrittenReport, ext: string) => readFileSync(r.files[ext]!, 'utf8');
  beforeEach(() => {
    written = write();
  });

  it('give the verdict, then the findings worst first with their checks, then the checkpoint and the evidence (Markdown)', () => {
    const md = file(written.compliance, 'md');
    order(md, [
      '## Verdict: **fail: 1 critical, 1 high, 1 medium, 1 low**',
      '## Findings (4)',
      '### critical (1)',
      '`immutability:missing-event:CIM_PERSON:57` (immutability)',
      '### high (1)',
      '### medium (1)',
      '### low (1)',
      '## Checkpoint',
      '## Evidence',
      '### Checks run',
      '| immutability (Immutability) | events 1,200, streams 4 | 1 | 0 | 0 | 0 | 0 |',
      '### Evidence of each finding',
    ]);
    expect(md).toContain('&lt;b&gt;'); // text from a finding is never markup
    order(file(written.retention, 'md'), [
      '## Verdict: pass with findings: 1 low',
      '## Findings (1)',
      '## Evidence',
      '| person | maxAge 30d, maxEventsPerAggregate 100 | seq 11 at 2026-11-01T00:00:00.000Z | 1 | 1 | 10 |',
      '### Ranges removed',
      '### Legal holds',
    ]);
    order(file(written.audit, 'md'), [
      '## Verdict: **fail: 1 high**',
      '## Findings (1)',
      '### Records by outcome',
      '| accepted | 115 |',
      '### Records by actor',
      '### Writer chains',
      '### Gaps',
    ]);
  });

  it('give the verdict and findings before the evidence in HTML too, with no markup from the text', () => {
    const html = file(written.compliance, 'html');
    order(html, [
      '<section id="verdict"><h2>Verdict: <span class="bad">fail: 1 critical, 1 high, 1 medium, 1 low</span>',
      '<section id="findings">',
      '<h3 class="bad">critical (1)</h3>',
      '<h3 class="bad">high (1)</h3>',
      '<h3 class="warn">medium (1)</h3>',
      '<h3 class="">low (1)</h3>',
      '<section id="checkpoint">',
      '<section id="evidence">',
    ]);
    expect(html).not.toContain('<b>');
    expect(file(written.retention, 'html')).toContain('<span class="warn">pass with findings: 1 low</span>');
  });

  it('give JUnit failures for the critical and high findings only', () => {
    const xml = render(written.compliance.named, 'junit');
    expect(xml).toMatch(/<testsuite name="findings" tests="4" failures="2"/);
  });

  it('give a clean system a pass', () => {
    const clean = writeComplianceReports(complianceInput({ clean: true }), {
      stateDir: join(dir.path, 'clean'),
      signer,
    });
    expect(readFileSync(clean.compliance.files.md!, 'utf8')).toContain('## Verdict: pass: no finding above info');
    expect(readFileSync(clean.audit.files.html!, 'utf8')).toContain(
      '<span class="ok">pass: no finding above info</span>',
    );
  });

  it('give JSON with every CID as a plain string', () => {
    const second = write();
    const json = JSON.parse(file(second.audit, 'json')) as Record<string, unknown> & {
      checkpoint: { root: string; note: string };
    };
    expect(json.cid).toBe(second.audit.named.cid.toString());
    expect(json.prev).toBe(written.audit.named.cid.toString());
    expect(json.checkpoint.root).toBe(Buffer.from(second.audit.named.report.checkpoint!.root).toString('base64'));
    expect(json.checkpoint.note).toBe(second.audit.named.report.checkpoint!.note);
  });
});
