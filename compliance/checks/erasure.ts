// Erasure: for every erasure the audit log records as done (`erasure`, outcome `ok`), the subject's
// key is gone from the key store, no read-model row and no snapshot holds the subject, and the
// subject's events are still there and verify (crypto-shredding leaves them byte-identical).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { domainStream, keyStorePath, SNAPSHOT_BUCKET, SubjectKeyStore } from '../../appliance/index.js';
import { auditRecords } from '../audit-log.js';
import type { CheckContext, CheckOutcome, ComplianceCheck, ComplianceFinding } from '../findings.js';
import { fromIntegrityFinding, verification } from '../verification.js';

/** The subjects the audit log says were erased, with the records that say so (pure: unit-tested). */
export function erasedSubjects(
  records: Awaited<ReturnType<typeof auditRecords>>,
): Map<string, { streamSeq: number; cid: string; at: string }[]> {
  const subjects = new Map<string, { streamSeq: number; cid: string; at: string }[]>();
  for (const t of records) {
    const r = t.record;
    if (!r || r.action !== 'erasure' || r.outcome !== 'ok' || !r.target.startsWith('subject/')) continue;
    const id = r.target.slice('subject/'.length);
    if (id === '(invalid)') continue;
    const list = subjects.get(id) ?? [];
    list.push({ streamSeq: t.streamSeq, cid: t.cid ?? '', at: r.at });
    subjects.set(id, list);
  }
  return subjects;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

export const erasureCheck: ComplianceCheck = {
  name: 'erasure',
  title: 'Erasure (crypto-shredding)',
  async run(ctx: CheckContext, progress): Promise<CheckOutcome> {
    const erased = erasedSubjects(await auditRecords(ctx));
    const findings: ComplianceFinding[] = [];
    const keyFile = keyStorePath(ctx.config.stateDir, ctx.config.privacy.keyStoreDir);
    const keys = existsSync(keyFile)
      ? SubjectKeyStore.open(ctx.config.stateDir, { dir: ctx.config.privacy.keyStoreDir })
      : undefined;
    const modelPath = join(ctx.config.stateDir, 'read-models.sqlite');
    const model = existsSync(modelPath) ? new Database(modelPath, { readonly: true, fileMustExist: true }) : undefined;
    const nc = await ctx.connect('auditor');
    const jsm = await nc.jetstreamManager();
    const personal = ctx.domains.filter((d) => Object.keys(d.definition.personalData ?? {}).length > 0);
    // Columns named as the domains' personal-data fields: what must be null in a row an erased subject's later event brought back.
    const fields = new Set(personal.flatMap((d) => Object.values(d.definition.personalData ?? {}).flat()));
    const subjectTables = ctx.domains.flatMap((d) =>
      (d.definition.projections ?? []).flatMap((p) => p.subjectRows ?? []),
    );
    const verified = erased.size > 0 ? await verification(ctx) : undefined;
    let done = 0;
    let rowsChecked = 0;
    try {
      if (erased.size > 0 && !keys)
        findings.push({
          id: 'erasure:key-store-missing',
          check: 'erasure',
          severity: 'high',
          message: `the audit log records ${erased.size} erasures, but there is no key store at ${keyFile} to show their keys are gone`,
          evidence: { keyStore: keyFile, subjects: erased.size },
        });
      for (const [subject, audited] of erased) {
        const evidence = { subject, audit: audited };
        const status = keys?.status(subject);
        if (status === 'active')
          findings.push({
            id: `erasure:key-present:${subject}`,
            check: 'erasure',
            severity: 'critical',
            message: `subject ${subject}: the audit log says it was erased (${audited[0]!.at}), but its key is still in the key store: its personal data can still be decrypted. Fix: run \`cim erase ${subject}\` again.`,
            evidence: { ...evidence, keyStore: keyFile, status },
          });
        else if (status === 'unknown')
          findings.push({
            id: `erasure:key-unknown:${subject}`,
            check: 'erasure',
            severity: 'high',
            message: `subject ${subject}: the audit log says it was erased, but this key store (${keyFile}) never knew it: the erasure happened against another key store, which this check cannot see`,
            evidence: { ...evidence, keyStore: keyFile, status },
          });
        if (model) {
          for (const { table, column } of subjectTables) {
            let count = 0;
            try {
              count = (
                model.prepare(`SELECT COUNT(*) AS n FROM ${quote(table)} WHERE ${quote(column)} = ?`).get(subject) as {
                  n: number;
                }
              ).n;
            } catch {
              continue; // the table is not there (yet)
            }
            rowsChecked++;
            // A later event brings the row back with its personal data null: the row itself is allowed then.
            const withData = count > 0 ? personalColumns(model, table, column, subject, fields) : [];
            if (withData.length > 0)
              findings.push({
                id: `erasure:read-model:${subject}:${table}`,
                check: 'erasure',
                severity: 'critical',
                message: `subject ${subject} was erased, but the read model ${modelPath} still holds personal data in ${table} (${withData.join(', ')} not null). Fix: \`cim erase ${subject}\` again, or rebuild the projection.`,
                evidence: { ...evidence, readModel: modelPath, table, column, columns: withData },
              });
          }
        }
        for (const domain of personal) {
          const key = `$KV.${SNAPSHOT_BUCKET}.${domain.name}.${subject}`;
          try {
            const m = await jsm.streams.getMessage(`KV_${SNAPSHOT_BUCKET}`, { last_by_subj: key });
            const op = m.header?.get('KV-Operation');
            if (op !== 'DEL' && op !== 'PURGE' && m.data.length > 0)
              findings.push({
                id: `erasure:snapshot:${domain.name}.${subject}`,
                check: 'erasure',
                severity: 'critical',
                message: `subject ${subject} was erased, but ${SNAPSHOT_BUCKET} still holds a snapshot of it (${domain.name}.${subject}, stream seq ${m.seq})`,
                evidence: { ...evidence, bucket: SNAPSHOT_BUCKET, key: `${domain.name}.${subject}`, streamSeq: m.seq },
              });
          } catch {
            // none: as it should be
          }
        }
        // Its events stay and verify: any verification finding about its aggregate is a finding here.
        for (const result of verified?.domains ?? []) {
          if (!personal.some((d) => domainStream(d.name) === result.stream)) continue;
          for (const f of result.findings)
            if (f.aggregateId === subject) findings.push({ ...fromIntegrityFinding('erasure', f), severity: 'high' });
        }
        progress?.(++done, erased.size);
      }
    } finally {
      keys?.close();
      model?.close();
    }
    return {
      check: 'erasure',
      findings,
      examined: { erasures: erased.size, subjectTables: rowsChecked },
      evidence: { subjects: [...erased.keys()], keyStore: keyFile, readModel: model ? modelPath : null },
    };
  },
};

/** The personal-data columns of the subject's rows that still hold something. */
function personalColumns(
  db: Database.Database,
  table: string,
  column: string,
  subject: string,
  fields: ReadonlySet<string>,
): string[] {
  const rows = db.prepare(`SELECT * FROM ${quote(table)} WHERE ${quote(column)} = ?`).all(subject) as Record<
    string,
    unknown
  >[];
  const left = new Set<string>();
  for (const row of rows) for (const [k, v] of Object.entries(row)) if (fields.has(k) && v !== null) left.add(k);
  return [...left];
}
