// The chain and seal verification of every domain stream and of the audit log, done once per
// `cim comply` (immutability, audit completeness and erasure read it), and the mapping of its
// findings (appliance/integrity) to compliance findings.
import {
  AUDIT_STREAM,
  expectedStreams,
  listDomains,
  missingDomain,
  verifyAudit,
  verifyDomain,
  type DomainVerification,
  type Finding,
  type FindingKind,
} from '../appliance/index.js';
import type { CheckContext, CheckName, ComplianceFinding, FindingSeverity } from './findings.js';

export interface Verification {
  domains: DomainVerification[];
  /** Undefined when the cluster has no audit log. */
  audit: DomainVerification | undefined;
  /** Findings about the streams as a whole (the seal stream missing or shortened). */
  streams: Finding[];
}

/** Every kind but the ones that name records that are merely no seal or no event is evidence of tampering or loss. */
export const INTEGRITY_SEVERITY: Record<FindingKind, FindingSeverity> = {
  'invalid-event': 'high',
  'cid-mismatch': 'critical',
  'wrong-subject': 'critical',
  'chain-broken': 'critical',
  'missing-event': 'critical',
  'seal-mismatch': 'critical',
  'seal-invalid': 'high',
  'manifest-invalid': 'high',
  'seal-signature': 'critical',
  'seal-untrusted': 'high',
  'seal-chain': 'critical',
  truncated: 'critical',
  'events-removed': 'critical',
  'stream-missing': 'critical',
  'seals-removed': 'critical',
  'snapshot-signature': 'high',
  'snapshot-mismatch': 'high',
};

/** A verification finding as a compliance finding: `<check>:<kind>:<stream>:<seq or aggregate>`. */
export function fromIntegrityFinding(check: CheckName, finding: Finding): ComplianceFinding {
  const where = finding.streamSeq ?? finding.aggregateId ?? '-';
  return {
    id: `${check}:${finding.kind}:${finding.stream}:${where}`,
    check,
    severity: INTEGRITY_SEVERITY[finding.kind],
    message: finding.message,
    evidence: {
      kind: finding.kind,
      domain: finding.domain,
      stream: finding.stream,
      streamSeq: finding.streamSeq ?? null,
      aggregateId: finding.aggregateId ?? null,
      expected: finding.expected ?? null,
      actual: finding.actual ?? null,
    },
  };
}

export function verification(
  ctx: CheckContext,
  progress?: (done: number, total?: number) => void,
): Promise<Verification> {
  return ctx.once('verification', async () => {
    const nc = await ctx.connect('auditor');
    const found = await listDomains(nc, ctx.subjects);
    const expected = await expectedStreams(
      nc,
      ctx.domains.map((d) => d.name),
      found,
    );
    const options = { trusted: ctx.trusted, subjects: ctx.subjects };
    const domains: DomainVerification[] = [];
    const total = expected.domains.length + 1;
    let done = 0;
    for (const domain of expected.domains) {
      domains.push(
        found.includes(domain)
          ? await verifyDomain(nc, domain, options)
          : missingDomain(domain, `the appliance serves or sealed ${domain}`),
      );
      progress?.(++done, total);
    }
    let audit: DomainVerification | undefined;
    try {
      await (await nc.jetstreamManager()).streams.info(AUDIT_STREAM);
      audit = await verifyAudit(nc, options);
    } catch (error) {
      if ((error as { code?: string }).code !== 'CIM-NOT-FOUND' && !/not found/i.test((error as Error).message))
        throw error;
    }
    progress?.(++done, total);
    return { domains, audit, streams: expected.findings };
  });
}
