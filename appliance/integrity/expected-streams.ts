// Which streams must exist, and whether the seal history is whole: a deleted domain stream or a
// purged seal stream leaves nothing to verify, so its absence has to be a finding of its own.
// Evidence comes from the cluster (the seal stream names every domain it sealed; it has no
// retention and denies purges, so removed seal records show in its state) and from the
// watermarks of earlier verifications kept in the state dir (watermarks.ts).
import type { NatsConnection, StreamInfo } from 'nats';
import { AUDIT_LOG, domainStream, SEALS_STREAM, Subjects } from '../eventstore/names.js';
import { isNotFound } from '../eventstore/retry.js';
import type { Finding } from './findings.js';

export interface ExpectedStreams {
  /** The domains to verify: served, found on the cluster, or named by seals; sorted. */
  domains: string[];
  /** The domains among them whose event stream is missing. */
  missing: string[];
  /** Findings about the seal stream itself (missing, records removed). */
  findings: Finding[];
}

/** The domains seals name: the `<prefix>.seals.<domain>` subjects the seal stream's info lists. */
function sealedDomains(info: StreamInfo | undefined, subjects: Subjects): string[] {
  const prefix = `${subjects.prefix}.seals.`;
  return Object.keys(info?.state.subjects ?? {})
    .filter((s) => s.startsWith(prefix))
    .map((s) => s.slice(prefix.length))
    .filter((d) => d !== AUDIT_LOG); // the audit log's seals: it is checked on its own
}

/**
 * Compares what must exist with what does. `served` are the domains this appliance serves,
 * `found` those with event streams on the cluster. Nothing is expected of a cluster the
 * appliance never provisioned (no domain stream and no seal stream).
 */
export async function expectedStreams(
  nc: NatsConnection,
  served: readonly string[],
  found: readonly string[],
  subjects = new Subjects(),
): Promise<ExpectedStreams> {
  const jsm = await nc.jetstreamManager();
  let seals: StreamInfo | undefined;
  try {
    // One read: the stream's state with the subjects it holds, which name the sealed domains.
    seals = await jsm.streams.info(SEALS_STREAM, { subjects_filter: subjects.seals() });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const sealed = sealedDomains(seals, subjects);
  const provisioned = seals !== undefined || found.length > 0;
  const domains = [...new Set([...found, ...sealed, ...(provisioned ? served : [])])].sort();
  const missing = domains.filter((d) => !found.includes(d));
  const findings: Finding[] = [];
  const base = { domain: '*', stream: SEALS_STREAM };
  if (!seals && found.length > 0) {
    findings.push({
      ...base,
      kind: 'stream-missing',
      message: `${SEALS_STREAM} is missing while ${found.map(domainStream).join(', ')} exist: every seal, and the proof of what was sealed, is gone`,
    });
  }
  if (seals) {
    const { first_seq: firstSeq, last_seq: lastSeq, messages, num_deleted: deleted } = seals.state;
    // The seal stream keeps every record (no limits, deny_purge): anything short of 1..last was removed.
    const removedHead = messages === 0 ? lastSeq : firstSeq - 1;
    if (removedHead > 0) {
      findings.push({
        ...base,
        kind: 'seals-removed',
        streamSeq: removedHead,
        expected: '1',
        actual: String(messages === 0 ? 'empty' : firstSeq),
        message: `${SEALS_STREAM} seq 1..${removedHead} were removed: seal records are kept forever`,
      });
    }
    if ((deleted ?? 0) > 0) {
      findings.push({
        ...base,
        kind: 'seals-removed',
        expected: '0 deleted',
        actual: `${deleted} deleted`,
        message: `${deleted} seal record${deleted === 1 ? '' : 's'} deleted from inside ${SEALS_STREAM}`,
      });
    }
  }
  return { domains, missing, findings };
}
