// The sealer of one domain stream: every N events or T seconds it seals the events appended
// since the last seal — their CIDs' Merkle root, chained and signed — into stream CIM_SEALS.
// Several appliance instances may run one each: a seal's position (its first sequence) is its
// message id, so racing sealers produce one seal, and the loser simply finds it next time.
// A record under the domain's seal subject that is not a seal of the domain (anyone allowed to
// publish there can put anything there) is a finding and skipped: the next seal chains to the
// last valid one, as `cim verify` checks it (docs/architecture.md#seals).
import { headers, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { CimError } from '../errors.js';
import { cidOfBlock } from '../eventstore/cid.js';
import { MerkleAccumulator } from './merkle.js';
import { domainStream, SEALS_STREAM, Subjects } from '../eventstore/names.js';
import { DEFAULT_RETRY, isNotFound, isWrongLastSequence, withRetries, type RetryPolicy } from '../eventstore/retry.js';
import { decodeSeal, encodeSeal, SEAL_VERSION, signSeal, type NamedSeal } from './seal.js';
import type { Signer } from './signing-key.js';
import type { Finding } from './findings.js';
import { readStream } from '../eventstore/stream-reader.js';

export interface SealerOptions {
  domain: string;
  signer: Signer;
  subjects?: Subjects;
  /** Seal once this many events are unsealed (default 1000). */
  everyEvents?: number;
  /** Seal whatever is unsealed after this long (default 10 s). */
  everyMs?: number;
  /** Upper bound of one seal's range, so one seal's work stays bounded (default 100,000). */
  maxEventsPerSeal?: number;
  retry?: RetryPolicy;
  /** Called with each seal this sealer wrote, and with errors of the background loop. */
  onSeal?: (seal: NamedSeal) => void;
  onError?: (error: CimError) => void;
  /** Told once about each record under the seal subject that is not a seal of the domain (skipped). */
  onInvalid?: (finding: Finding) => void;
}

/** The last seal of a domain and where it sits in CIM_SEALS. */
export interface SealHead {
  named: NamedSeal;
  streamSeq: number;
}

export interface SealerHandle {
  stop(): Promise<void>;
}

export class Sealer {
  private readonly js: JetStreamClient;
  private readonly subjects: Subjects;
  private readonly retry: RetryPolicy;
  private readonly everyEvents: number;
  private readonly everyMs: number;
  private readonly maxEventsPerSeal: number;
  /** The last valid seal found, so a search past junk records starts after it. */
  private known: SealHead | undefined;
  /** CIM_SEALS sequences of the records found not to be seals (reported once each). */
  private readonly invalid = new Map<number, Finding>();

  private constructor(
    nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly options: SealerOptions,
  ) {
    this.js = nc.jetstream();
    this.subjects = options.subjects ?? new Subjects();
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.everyEvents = options.everyEvents ?? 1_000;
    this.everyMs = options.everyMs ?? 10_000;
    this.maxEventsPerSeal = options.maxEventsPerSeal ?? 100_000;
  }

  static async open(nc: NatsConnection, options: SealerOptions): Promise<Sealer> {
    return new Sealer(nc, await nc.jetstreamManager(), options);
  }

  get domain(): string {
    return this.options.domain;
  }

  /** Records found under the seal subject that are not seals of the domain, as findings. */
  invalidRecords(): Finding[] {
    return [...this.invalid.values()];
  }

  /** When the last valid seal this sealer has seen was made (read anew on every tick of `start()`), without asking NATS. */
  lastSealSeen(): string | undefined {
    return this.known?.named.seal.at;
  }

  async lastSeal(): Promise<SealHead | undefined> {
    return (await this.head()).last;
  }

  /** The last valid seal, and the sequence of the last record under the subject (what a publish must expect). */
  private async head(): Promise<{ last: SealHead | undefined; subjectSeq: number }> {
    const subject = this.subjects.seal(this.domain);
    const lastRecord = await withRetries(
      this.retry,
      `reading the last seal of ${this.domain}`,
      () => this.jsm.streams.getMessage(SEALS_STREAM, { last_by_subj: subject }),
      (error) => {
        if (isNotFound(error)) return undefined;
        throw new CimError(
          'CIM-UNAVAILABLE',
          `reading the last seal of ${this.domain} failed: ${(error as Error).message}`,
          { cause: error },
        );
      },
    );
    if (!lastRecord) return { last: undefined, subjectSeq: 0 };
    const named = this.sealOf(lastRecord.data, lastRecord.seq);
    if (named) {
      this.known = { named, streamSeq: lastRecord.seq };
      return { last: this.known, subjectSeq: lastRecord.seq };
    }
    // The last record is junk: the last valid seal is further back. Read forward from the last
    // one known (seals are few: one per thousands of events), reporting each junk record once.
    let last = this.known && this.known.streamSeq < lastRecord.seq ? this.known : undefined;
    for await (const m of readStream(this.js, {
      stream: SEALS_STREAM,
      filterSubject: subject,
      fromSeq: (last?.streamSeq ?? 0) + 1,
      toSeq: lastRecord.seq,
    })) {
      const seal = this.sealOf(m.data, m.seq);
      if (seal) last = { named: seal, streamSeq: m.seq };
    }
    this.known = last;
    return { last, subjectSeq: lastRecord.seq };
  }

  /** The seal a record holds, or undefined (and a finding, once) when it is not a seal of this domain. */
  private sealOf(data: Uint8Array, streamSeq: number): NamedSeal | undefined {
    let why: string;
    try {
      const named = decodeSeal(data);
      if (named.seal.domain === this.domain) return named;
      why = `a seal of domain ${named.seal.domain}`;
    } catch (error) {
      why = (error as Error).message;
    }
    if (!this.invalid.has(streamSeq)) {
      const finding: Finding = {
        kind: 'seal-invalid',
        domain: this.domain,
        stream: SEALS_STREAM,
        streamSeq,
        message: `sealer of ${this.domain} skipped ${SEALS_STREAM} seq ${streamSeq}: ${why}`,
      };
      this.invalid.set(streamSeq, finding);
      this.options.onInvalid?.(finding);
    }
    return undefined;
  }

  /** The stream's last sequence and how many events follow the last seal. */
  async unsealed(): Promise<{
    last: SealHead | undefined;
    subjectSeq: number;
    fromSeq: number;
    lastSeq: number;
    count: number;
  }> {
    const { last, subjectSeq } = await this.head();
    const info = await withRetries(this.retry, `reading ${domainStream(this.domain)}`, () =>
      this.jsm.streams.info(domainStream(this.domain)),
    );
    const fromSeq = last ? last.named.seal.toSeq + 1 : Math.max(1, info.state.first_seq);
    return {
      last,
      subjectSeq,
      fromSeq,
      lastSeq: info.state.last_seq,
      count: Math.max(0, info.state.last_seq - fromSeq + 1),
    };
  }

  /** Seals what is unsealed now (up to maxEventsPerSeal); undefined when nothing is, or another sealer got there first. */
  async sealOnce(): Promise<NamedSeal | undefined> {
    const { last, subjectSeq, fromSeq, lastSeq, count } = await this.unsealed();
    if (count === 0) return undefined;
    const toSeqWanted = Math.min(lastSeq, fromSeq + this.maxEventsPerSeal - 1);

    // The leaves are the CIDs of the bytes as stored, recomputed rather than taken from headers —
    // of every message in the range, a message that is not a valid event among them: the seal
    // attests what the stream holds, and verification names such a message as invalid-event.
    const tree = new MerkleAccumulator();
    let toSeq = 0;
    for await (const m of readStream(this.js, {
      stream: domainStream(this.domain),
      fromSeq,
      toSeq: toSeqWanted,
      // A seal attests the leader's copy, not whichever replica a consumer lands on (a damaged follower's).
      onLeader: true,
    })) {
      tree.push(cidOfBlock(m.data).bytes);
      toSeq = m.seq;
    }
    if (tree.size === 0) return undefined;

    const named = signSeal(
      {
        v: SEAL_VERSION,
        domain: this.domain,
        fromSeq,
        toSeq,
        count: tree.size,
        merkleRoot: tree.root(),
        prevSeal: last?.named.cid ?? null,
        at: new Date().toISOString(),
        signer: this.options.signer.keyId,
      },
      this.options.signer,
    );
    return (await this.publish(named, subjectSeq)) ? named : undefined;
  }

  private async publish(named: NamedSeal, expectedSubjectSeq: number): Promise<boolean> {
    const subject = this.subjects.seal(this.domain);
    const cid = named.cid.toString();
    const h = headers();
    h.set('Cim-Cid', cid);
    try {
      const ack = await withRetries(this.retry, `publishing a seal of ${this.domain}`, (timeout) =>
        this.js.publish(subject, encodeSeal(named.seal), {
          msgID: `${this.domain}:${named.seal.fromSeq}`,
          expect: { lastSubjectSequence: expectedSubjectSeq },
          headers: h,
          timeout,
        }),
      );
      if (ack.duplicate) {
        const stored = await this.jsm.streams.getMessage(SEALS_STREAM, { seq: ack.seq });
        if (stored.header.get('Cim-Cid') !== cid) return false; // another sealer's seal of the same range
      }
      this.options.onSeal?.(named);
      return true;
    } catch (error) {
      if (isWrongLastSequence(error)) return false;
      throw error;
    }
  }

  /** Seals in the background: when everyEvents are unsealed, or everyMs passed with any unsealed. */
  start(): SealerHandle {
    let stopped = false;
    let busy = false;
    let lastSealAt = Date.now();
    let running: Promise<void> = Promise.resolve();
    const tick = async () => {
      busy = true;
      try {
        const { count } = await this.unsealed();
        if (count >= this.everyEvents || (count > 0 && Date.now() - lastSealAt >= this.everyMs)) {
          await this.sealOnce();
          lastSealAt = Date.now();
        }
      } catch (error) {
        this.options.onError?.(
          error instanceof CimError ? error : new CimError('CIM-INTERNAL', (error as Error).message, { cause: error }),
        );
      } finally {
        busy = false;
      }
    };
    const pollMs = Math.max(50, Math.min(1_000, this.everyMs / 4));
    const timer = setInterval(() => {
      if (stopped || busy) return; // a slow seal skips ticks rather than queueing them
      running = tick();
    }, pollMs);
    return {
      stop: async () => {
        stopped = true;
        clearInterval(timer);
        await running;
      },
    };
  }
}
