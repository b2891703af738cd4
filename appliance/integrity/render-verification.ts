// Plain-text rendering of verification results for the terminal: one summary line per domain,
// then its findings, one per line, each naming stream, sequence, aggregate, expected and actual.
import { AUDIT_LOG } from '../eventstore/names.js';
import type { Finding } from './findings.js';
import type { DomainVerification } from './verify.js';
import type { SnapshotVerification } from './snapshot-check.js';

function findingLines(f: Finding): string[] {
  const where = [f.stream, f.streamSeq !== undefined ? `seq ${f.streamSeq}` : undefined, f.aggregateId]
    .filter(Boolean)
    .join(' ');
  const lines = [`  ${f.kind.padEnd(14)} ${where}: ${f.message}`];
  if (f.expected !== undefined || f.actual !== undefined)
    lines.push(`  ${''.padEnd(14)} expected ${f.expected ?? '-'}, actual ${f.actual ?? '-'}`);
  return lines;
}

/** `streamFindings` are those about the appliance's streams as a whole (the seal stream missing or cut). */
export function renderVerification(
  results: readonly DomainVerification[],
  trustedKeys: readonly string[],
  streamFindings: readonly Finding[] = [],
): string {
  if (results.length === 0 && streamFindings.length === 0) return 'no event streams to verify';
  const lines: string[] = [];
  if (streamFindings.length > 0) {
    lines.push(`streams: ${streamFindings.length} finding${streamFindings.length === 1 ? '' : 's'}`);
    for (const f of streamFindings) lines.push(...findingLines(f));
  }
  for (const r of results) {
    const findings = r.findings.length + r.findingsOmitted;
    // The audit log's messages each hold a writer's batch of records; its seals cover messages.
    const audit = r.domain === AUDIT_LOG;
    const [what, chains] = audit
      ? [`${r.records ?? r.events} records in ${r.events} messages`, 'writers']
      : [`${r.events} events`, 'aggregates'];
    lines.push(
      `${r.domain} (${r.stream}): ${what}, ${r.aggregates} ${chains}, ${r.seals} seals; ` +
        `${r.sealedEvents}${audit ? ' messages' : ''} sealed, ${r.unsealedEvents} not yet sealed` +
        (r.removedByRetention > 0 ? `, ${r.removedByRetention} removed by retention (sealed)` : '') +
        ` — ${findings === 0 ? 'ok' : `${findings} finding${findings === 1 ? '' : 's'}`}`,
    );
    for (const f of r.findings) lines.push(...findingLines(f));
    if (r.findingsOmitted > 0) lines.push(`  … and ${r.findingsOmitted} more findings`);
  }
  lines.push(
    trustedKeys.length > 0
      ? `seal signatures checked against ${trustedKeys.join(', ')}`
      : 'seal signatures NOT checked: no trusted key (pass --key FILE)',
  );
  return lines.join('\n');
}

/** The result of `cim verify --snapshots`: a summary line, then its findings. */
export function renderSnapshotVerification(v: SnapshotVerification): string {
  const findings = v.findings.length + v.findingsOmitted;
  const lines = [
    `snapshots: ${v.checked} checked against the chain and the trusted keys` +
      (v.unchecked.length > 0 ? `, ${v.unchecked.length} of domains not served left unchecked` : '') +
      ` — ${findings === 0 ? 'ok' : `${findings} finding${findings === 1 ? '' : 's'}`}`,
  ];
  for (const f of v.findings) lines.push(...findingLines(f));
  if (v.findingsOmitted > 0) lines.push(`  … and ${v.findingsOmitted} more findings`);
  return lines.join('\n');
}
