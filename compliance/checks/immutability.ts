// Immutability: every chain and seal verifies (domains and the audit log), no stream is shorter or
// has fewer seals than an earlier verification saw, the evidence streams refuse deletes and purges
// on their LIVE config, every stream is sealed up to a bounded age, and only operator may delete,
// purge or change streams (from the live access matrix).
import type { MsgRequest, NatsConnection } from 'nats';
import {
  AUDIT_LOG,
  AUDIT_STREAM,
  compareWithWatermark,
  decodeSeal,
  domainStream,
  readWatermarks,
  SEALS_STREAM,
  watermarksFile,
} from '../../appliance/index.js';
import { natsMatrix } from './access.js';
import type { CheckContext, CheckOutcome, ComplianceCheck, ComplianceFinding } from '../findings.js';
import { fromIntegrityFinding, verification } from '../verification.js';

/** Streams whose records are evidence: deleting or purging any of them must be refused by the stream itself. */
export const EVIDENCE_STREAMS = [SEALS_STREAM, AUDIT_STREAM, 'CIM_RETENTION'] as const;

async function denyFlagFindings(nc: NatsConnection): Promise<{ findings: ComplianceFinding[]; read: unknown[] }> {
  const jsm = await nc.jetstreamManager();
  const findings: ComplianceFinding[] = [];
  const read: unknown[] = [];
  for (const stream of EVIDENCE_STREAMS) {
    let config;
    try {
      config = (await jsm.streams.info(stream)).config;
    } catch {
      continue; // A missing stream is the verification's finding (or CIM_RETENTION is not used).
    }
    read.push({ stream, deny_delete: config.deny_delete ?? false, deny_purge: config.deny_purge ?? false });
    const missing = (['deny_delete', 'deny_purge'] as const).filter((flag) => config[flag] !== true);
    if (missing.length > 0)
      findings.push({
        id: `immutability:deny-flags:${stream}`,
        check: 'immutability',
        severity: 'critical',
        message: `${stream} lacks ${missing.join(' and ')} in its live configuration: anyone allowed to administer it can ${missing.map((f) => (f === 'deny_delete' ? 'delete its records' : 'purge it')).join(' and ')}. Fix: recreate it with deny_delete and deny_purge (nats-server refuses to add them by update) after copying its records.`,
        evidence: { stream, deny_delete: config.deny_delete ?? false, deny_purge: config.deny_purge ?? false },
      });
  }
  return { findings, read };
}

/** The oldest event after the domain's last seal, and how old it is. */
async function unsealedTail(
  ctx: CheckContext,
  nc: NatsConnection,
  domain: string,
  lastSeq: number,
): Promise<{ fromSeq: number; at: string; ageMs: number } | undefined> {
  const jsm = await nc.jetstreamManager();
  let sealedTo = 0;
  try {
    const last = await jsm.streams.getMessage(SEALS_STREAM, { last_by_subj: ctx.subjects.seal(domain) });
    sealedTo = decodeSeal(last.data).seal.toSeq;
  } catch {
    sealedTo = 0; // no seal yet (or an invalid last record: the verification names it)
  }
  if (sealedTo >= lastSeq) return undefined;
  const stream = domain === AUDIT_LOG ? AUDIT_STREAM : domainStream(domain);
  const filter = domain === AUDIT_LOG ? ctx.subjects.audits() : ctx.subjects.domainEvents(domain);
  try {
    // STREAM.MSG.GET takes `next_by_subj`: the first message on the subjects at or after `seq`.
    const first = await jsm.streams.getMessage(stream, {
      seq: sealedTo + 1,
      next_by_subj: filter,
    } as unknown as MsgRequest);
    const at = first.time.toISOString();
    return { fromSeq: first.seq, at, ageMs: ctx.now().getTime() - first.time.getTime() };
  } catch {
    return undefined;
  }
}

export const immutabilityCheck: ComplianceCheck = {
  name: 'immutability',
  title: 'Immutability (chains, seals, deny flags, stream administration)',
  async run(ctx, progress): Promise<CheckOutcome> {
    const verified = await verification(ctx, progress);
    const nc = await ctx.connect('auditor');
    const findings: ComplianceFinding[] = [];
    const all = verified.audit ? [...verified.domains, verified.audit] : verified.domains;
    const seenBefore = readWatermarks(ctx.config.stateDir);
    for (const result of all) {
      for (const f of result.findings) findings.push(fromIntegrityFinding('immutability', f));
      for (const f of compareWithWatermark(
        result.domain,
        result.stream,
        seenBefore[result.domain],
        { lastSeq: result.lastSeq, seals: result.seals },
        watermarksFile(ctx.config.stateDir),
      ))
        findings.push(fromIntegrityFinding('immutability', f));
      if (result.findingsOmitted > 0)
        findings.push({
          id: `immutability:findings-omitted:${result.stream}`,
          check: 'immutability',
          severity: 'critical',
          message: `${result.stream}: ${result.findingsOmitted} more verification findings were counted, not listed`,
          evidence: { stream: result.stream, omitted: result.findingsOmitted },
        });
    }
    for (const f of verified.streams) findings.push(fromIntegrityFinding('immutability', f));

    const flags = await denyFlagFindings(nc);
    findings.push(...flags.findings);

    // Seal coverage: nothing older than the bound may be unsealed.
    const tails: unknown[] = [];
    for (const result of all) {
      if (result.events === 0) continue;
      const tail = await unsealedTail(ctx, nc, result.domain, result.lastSeq);
      if (!tail) continue;
      tails.push({ stream: result.stream, ...tail });
      if (tail.ageMs > ctx.maxUnsealedAgeMs)
        findings.push({
          id: `immutability:unsealed:${result.stream}`,
          check: 'immutability',
          severity: 'high',
          message: `${result.stream} has events unsealed since seq ${tail.fromSeq} (${tail.at}, ${Math.round(tail.ageMs / 60_000)} min ago; the bound is ${Math.round(ctx.maxUnsealedAgeMs / 60_000)} min): their deletion would not be detectable. Fix: run \`cim serve\` (its sealers) or \`cim seal\`.`,
          evidence: { stream: result.stream, ...tail, boundMs: ctx.maxUnsealedAgeMs },
        });
    }

    // Who may administer streams, as the live servers answered.
    const matrix = await natsMatrix(ctx);
    const admins: unknown[] = [];
    for (const cell of matrix.cells) {
      const admin = cell.probe.admin;
      if (!admin || cell.observed !== 'allowed') continue;
      admins.push({ role: cell.role, action: admin.action, stream: admin.stream });
      if (cell.expected === 'allowed') continue;
      findings.push({
        id: `immutability:stream-admin:${cell.role}:${admin.action}:${admin.stream}`,
        check: 'immutability',
        severity: 'critical',
        message: `role ${cell.role} may ${admin.action} ${admin.stream === 'CIM_COMPLIANCE_PROBE' ? 'streams' : admin.stream} (the live servers let the call through): only operator may administer streams. Fix: deny $JS.API.STREAM.${admin.action.toUpperCase().replace('-', '.')}.> to ${cell.role}.`,
        evidence: { role: cell.role, action: admin.action, stream: admin.stream, subject: cell.probe.subject },
      });
    }
    return {
      check: 'immutability',
      findings,
      examined: {
        streams: all.length,
        events: verified.domains.reduce((n, r) => n + r.events, 0),
        auditMessages: verified.audit?.events ?? 0,
        seals: all.reduce((n, r) => n + r.seals, 0),
      },
      evidence: {
        streams: all.map((r) => ({
          stream: r.stream,
          lastSeq: r.lastSeq,
          events: r.events,
          seals: r.seals,
          sealedEvents: r.sealedEvents,
          unsealedEvents: r.unsealedEvents,
          signaturesChecked: r.signaturesChecked,
        })),
        denyFlags: flags.read,
        unsealed: tails,
        streamAdministration: admins,
      },
    };
  },
};
