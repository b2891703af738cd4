// What verification reports: findings that name the stream, sequence, aggregate and the expected
// and actual values, kept up to a cap so a badly broken store cannot exhaust memory.

export type FindingKind =
  | 'invalid-event' // not a valid envelope
  | 'cid-mismatch' // the bytes do not hash to the CID the message claims
  | 'wrong-subject' // an event stored on another aggregate's or domain's subject
  | 'chain-broken' // seq not contiguous or prev not the previous event's CID
  | 'missing-event' // a stream sequence inside a sealed range is gone
  | 'seal-mismatch' // a sealed range no longer recomputes to the seal's root or count
  | 'seal-invalid' // a seal record that does not decode
  | 'seal-signature' // a seal whose signature does not verify, or whose record was altered
  | 'seal-untrusted' // a seal signed by a key that is not trusted
  | 'seal-chain' // a seal not chained to its predecessor, or ranges that gap or overlap
  | 'truncated' // the stream ends before the end of what was sealed
  | 'events-removed' // events gone from the head of a stream that has no retention policy, or a stream shorter than it was
  | 'stream-missing' // a stream the appliance must have (a served or sealed domain's, the seal stream) does not exist
  | 'seals-removed' // seal records gone: from the seal stream itself, or fewer than an earlier verification saw
  | 'manifest-invalid' // a removal manifest that does not decode, names no seal of the domain, or lists a sequence outside its seal
  | 'snapshot-signature' // a snapshot not signed by a trusted key, or whose signature does not verify
  | 'snapshot-mismatch'; // a snapshot whose head or state is not what the chain folds to

export interface Finding {
  kind: FindingKind;
  domain: string;
  /** The stream the finding is in (the domain stream, or CIM_SEALS for seal findings; a snapshot's domain stream). */
  stream: string;
  streamSeq?: number;
  aggregateId?: string;
  expected?: string;
  actual?: string;
  message: string;
}

export class FindingList {
  readonly list: Finding[] = [];
  omitted = 0;

  constructor(protected readonly max = 1_000) {}

  add(finding: Finding): void {
    if (this.list.length < this.max) this.list.push(finding);
    else this.omitted++;
  }
}
