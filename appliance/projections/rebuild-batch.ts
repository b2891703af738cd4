// The part of a rebuild after reading: a batch of stream messages (bytes and sequence) decoded,
// checked against the time bound, decrypted, upcast and applied to the read model with its
// checkpoint in one transaction. One code path whether it runs on the reading thread or on the
// rebuild's worker thread (rebuild-thread.ts), so both build the same model.
import { decodeEvent, type PayloadProtection, type UpcasterRegistry } from '../eventstore/index.js';
import type { ProjectionDefinition } from '../decider/types.js';
import type { Finding } from '../integrity/index.js';
import type { ReadModel, SequencedEvent } from './read-model.js';

/** What a rebuild needs to apply a message: the projection and how to turn bytes into its events. */
export interface RebuildSetup {
  projection: ProjectionDefinition;
  upcasters?: UpcasterRegistry | undefined;
  protection?: PayloadProtection | undefined;
}

/** A run of consecutive messages of one stream as read, in stream order. */
export interface MessageBatch {
  domain: string;
  stream: string;
  seqs: readonly number[];
  bodies: readonly Uint8Array[];
}

export interface AppliedBatch {
  /** Events whose rows were written. */
  applied: number;
  /** The checkpoint now: the last message of the batch, or before the first event past the time bound. */
  lastSeq: number;
  /** Messages that are no events, skipped (the checkpoint moves past them). */
  invalid: Finding[];
  /** An event later than the time bound was met: this batch's rest and anything after it are not applied. */
  ended: boolean;
}

/**
 * Applies `batch` in one transaction with its checkpoint, as far as the time bound allows.
 * `after` is the checkpoint before it: an empty run (nothing but invalid messages) still moves it.
 */
export function applyMessages(
  model: ReadModel,
  setup: RebuildSetup,
  batch: MessageBatch,
  after: number,
  toTimeMs: number | undefined,
): AppliedBatch {
  const { projection, upcasters, protection } = setup;
  const events: SequencedEvent[] = [];
  const invalid: Finding[] = [];
  let lastSeq = after;
  let ended = false;
  for (let i = 0; i < batch.seqs.length; i++) {
    const seq = batch.seqs[i]!;
    let envelope;
    try {
      envelope = decodeEvent(batch.bodies[i]!);
    } catch (error) {
      // Not an event: skipped, as the live projector skips it, so it cannot stop a rebuild.
      invalid.push({
        kind: 'invalid-event',
        domain: batch.domain,
        stream: batch.stream,
        streamSeq: seq,
        message: `replay of ${projection.name} skipped ${batch.stream} seq ${seq}: not a valid event (${(error as Error).message})`,
      });
      lastSeq = seq;
      continue;
    }
    // The stream is in sequence order, not time order: the first later event ends the journey.
    if (toTimeMs !== undefined && Date.parse(envelope.at) > toTimeMs) {
      ended = true;
      break;
    }
    if (protection) envelope = protection.reveal(envelope);
    if (upcasters) envelope = upcasters.upcast(envelope);
    events.push({ streamSeq: seq, envelope });
    lastSeq = seq;
  }
  if (events.length === 0 && lastSeq <= after) return { applied: 0, lastSeq, invalid, ended };
  const result = model.applyBatch(projection.name, batch.domain, events, lastSeq);
  return { applied: result.applied, lastSeq, invalid, ended };
}
