// The per-message half of verifying the audit log, free of NATS like chain-check.ts: a message (a
// writer's batch of records, or one record) decodes, its CID recomputes from its bytes (and equals
// the CID it was published as), and each of its records sits on its own writer's subject and
// extends its writer's chain (seq + 1, prev = the previous record's CID). Memory: one entry per writer.
import { CID } from 'multiformats/cid';
import { decodeAuditMessage, type NamedAuditRecord } from '../audit/record.js';
import { AUDIT_LOG, AUDIT_STREAM, type Subjects } from '../eventstore/names.js';
import { cidBytesOf, type StoredMessage } from './chain-check.js';
import type { FindingList } from './findings.js';

const cidText = (bytes: Uint8Array | null) => (bytes === null ? 'nothing' : CID.decode(bytes).toString());

export class AuditChainChecker {
  /** Per writer, its last record: seq, CID, stream sequence, and the CID it links to. */
  private readonly chains = new Map<
    string,
    { seq: number; cid: Uint8Array; streamSeq: number; prev: Uint8Array | null }
  >();
  private readonly base = { domain: AUDIT_LOG, stream: AUDIT_STREAM };

  constructor(
    private readonly subjects: Subjects,
    private readonly findings: FindingList,
  ) {}

  /** Records checked, in all messages. */
  records = 0;

  /** Told of each record read, after it was checked (the audit report counts them). */
  onRecord?: (named: NamedAuditRecord, streamSeq: number) => void;

  /** Each writer's chain head: its last record read. */
  heads(): { writer: string; seq: number; cid: string; streamSeq: number }[] {
    return [...this.chains].map(([writer, c]) => ({ writer, seq: c.seq, cid: cidText(c.cid), streamSeq: c.streamSeq }));
  }

  /** Writers seen. */
  get aggregates(): number {
    return this.chains.size;
  }

  /** Checks one stored message and returns its binary CID (the Merkle leaf of the audit log's seals). */
  check(m: StoredMessage): Uint8Array {
    const cid = cidBytesOf(m.data);
    const { streamSeq } = m;
    let records;
    try {
      records = decodeAuditMessage(m.data).records;
    } catch (error) {
      this.findings.add({
        ...this.base,
        kind: 'invalid-event',
        streamSeq,
        actual: cidText(cid),
        message: `${AUDIT_STREAM} seq ${streamSeq} (${m.subject}): ${(error as Error).message}`,
      });
      return cid;
    }
    if (m.claimedCid !== undefined && m.claimedCid !== cidText(cid)) {
      this.findings.add({
        ...this.base,
        kind: 'cid-mismatch',
        streamSeq,
        aggregateId: records[0]!.record.writer,
        expected: m.claimedCid,
        actual: cidText(cid),
        message: `${AUDIT_STREAM} seq ${streamSeq} (writer ${records[0]!.record.writer}): published as ${m.claimedCid}, its bytes hash to ${cidText(cid)}`,
      });
    }
    for (const named of records) {
      this.checkRecord(named, m.subject, streamSeq);
      this.onRecord?.(named, streamSeq);
    }
    this.records += records.length;
    return cid;
  }

  /** Checks one record of the message at `streamSeq`: its subject, and its place in its writer's chain. */
  private checkRecord({ record, cid: recordCid }: NamedAuditRecord, subject: string, streamSeq: number): void {
    const cid = recordCid.bytes;
    const writer = record.writer;
    if (subject !== this.subjects.audit(writer)) {
      this.findings.add({
        ...this.base,
        kind: 'wrong-subject',
        streamSeq,
        aggregateId: writer,
        expected: this.subjects.audit(writer),
        actual: subject,
        message: `${AUDIT_STREAM} seq ${streamSeq}: a record of writer ${writer} stored on ${subject}`,
      });
    }
    const prev = record.prev === null ? null : record.prev.bytes;
    const chain = this.chains.get(writer);
    if (chain === undefined) {
      // The audit log has no retention: every chain starts in the stream.
      if (record.seq !== 1) {
        this.findings.add({
          ...this.base,
          kind: 'chain-broken',
          streamSeq,
          aggregateId: writer,
          expected: 'seq 1',
          actual: `seq ${record.seq} after ${cidText(prev)}`,
          message: `${AUDIT_STREAM} seq ${streamSeq}: writer ${writer}'s chain starts at seq ${record.seq} (record ${cidText(cid)})`,
        });
      }
    } else if (record.seq === chain.seq && sameLink(prev, chain.prev)) {
      // Two records at one position of the chain: one of them was not written by the writer (its
      // writer goes on from its own record, so a record written into its chain shows as this fork).
      this.findings.add({
        ...this.base,
        kind: 'chain-broken',
        streamSeq,
        aggregateId: writer,
        expected: `one record at seq ${record.seq}: ${cidText(chain.cid)} (${AUDIT_STREAM} seq ${chain.streamSeq})`,
        actual: `another: ${cidText(cid)} (${AUDIT_STREAM} seq ${streamSeq})`,
        message: `writer ${writer}'s chain forks at seq ${record.seq}: ${AUDIT_STREAM} seq ${chain.streamSeq} and seq ${streamSeq} both follow ${cidText(prev)}; one of them was written by someone else`,
      });
    } else if (record.seq !== chain.seq + 1 || prev === null || Buffer.compare(prev, chain.cid) !== 0) {
      const expected = `seq ${chain.seq + 1} after ${cidText(chain.cid)}`;
      const actual = `seq ${record.seq} after ${cidText(prev)}`;
      this.findings.add({
        ...this.base,
        kind: 'chain-broken',
        streamSeq,
        aggregateId: writer,
        expected,
        actual,
        message: `${AUDIT_STREAM} seq ${streamSeq}: writer ${writer}'s chain breaks: expected ${expected}, found ${actual} (record ${cidText(cid)})`,
      });
    }
    // A break resynchronises on the record found, so one break is one finding, not a cascade.
    this.chains.set(writer, { seq: record.seq, cid, streamSeq, prev });
  }
}

function sameLink(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === null || b === null ? a === b : Buffer.compare(a, b) === 0;
}
