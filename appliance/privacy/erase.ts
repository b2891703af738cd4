// Erasure by crypto-shredding (docs/architecture.md#erasure-crypto-shredding): destroys a data
// subject's key, so every event that holds its personal data — byte-identical in the streams, on
// every replica, with its chain and seals intact — can no longer be read; deletes the subject's
// read-model rows and snapshots, and scrubs the files; records the erasure in the audit log before
// it answers. Idempotent: erasing an erased subject again completes whatever a first attempt left.
import type { NatsConnection } from 'nats';
import { CimError, toCimError } from '../errors.js';
import { SnapshotStore, subjectToken } from '../eventstore/index.js';
import type { AuditEntry, AuditSink } from '../audit/index.js';
import type { ReadModel } from '../projections/index.js';
import type { SubjectKeyStore } from './key-store.js';

/** Who asks for an erasure, as the audit log records it. */
export interface ErasureRequest {
  subjectId: string;
  actor: string;
  role: string;
  source: AuditEntry['source'];
  correlationId: string;
}

export interface ErasureResult {
  subjectId: string;
  /** `erased`: the key was destroyed now; `already-erased`: it was gone before (the rest was done again). */
  outcome: 'erased' | 'already-erased';
  rowsDeleted: number;
  /** The snapshot keys deleted (`<domain>.<subjectId>`). */
  snapshotsDeleted: string[];
}

export interface Eraser {
  keys: SubjectKeyStore;
  /** The domains whose events hold personal data: the subject's snapshots in them are deleted. */
  domains: readonly string[];
  /** For the snapshots in `cim_snapshots`; without it none are deleted. */
  nc?: NatsConnection;
  /** The read model whose subject rows are deleted (the one the process owns, or the state dir's). */
  readModel?: ReadModel;
  audit?: AuditSink;
  /**
   * Legal holds (appliance/retention/holds.ts): the hold's name when a subject may not be erased
   * now, or undefined. A held subject is refused with CIM-LEGAL-HOLD before anything is destroyed
   * (GDPR Art. 17(3)(e)), and the audit record says so: outcome `rejected`, code CIM-LEGAL-HOLD.
   */
  legalHold?: (subjectId: string) => Promise<string | undefined>;
}

/** Erases one data subject; see the file's header. Throws CIM-NOT-FOUND for a subject never known. */
export async function eraseSubject(eraser: Eraser, request: ErasureRequest): Promise<ErasureResult> {
  const audit = (outcome: AuditEntry['outcome'], code?: string) =>
    eraser.audit?.record({
      actor: request.actor,
      role: request.role,
      source: request.source,
      action: 'erasure',
      // An id only: the target is safe to keep for good, the subject's data is not.
      target: `subject/${subjectTokenOrPlaceholder(request.subjectId)}`,
      outcome,
      ...(code ? { code } : {}),
      correlationId: request.correlationId,
    });
  let result: ErasureResult;
  try {
    result = await erase(eraser, request.subjectId);
  } catch (error) {
    const e = toCimError(error);
    const refused = ['CIM-NOT-FOUND', 'CIM-INVALID-INPUT', 'CIM-REJECTED', 'CIM-LEGAL-HOLD'].includes(e.code);
    await audit(refused ? 'rejected' : 'failed', e.code);
    throw e;
  }
  await audit('ok');
  return result;
}

async function erase(eraser: Eraser, subjectId: string): Promise<ErasureResult> {
  if (!subjectToken.test(subjectId))
    throw new CimError('CIM-INVALID-INPUT', 'a subject id is an aggregate id: letters, digits, "_", "-" or "="');
  const status = eraser.keys.status(subjectId);
  if (status === 'unknown')
    throw new CimError('CIM-NOT-FOUND', `no personal data was ever stored for subject ${subjectId}`, {
      hint: 'A subject id is the aggregate id of its events, e.g. the personId of a person.',
    });
  const held = await eraser.legalHold?.(subjectId);
  if (held !== undefined)
    throw new CimError('CIM-LEGAL-HOLD', `subject ${subjectId} is under a legal hold (${held}): nothing was erased`, {
      hint: 'A legal hold overrides erasure (GDPR Art. 17(3)(e)); once it is lifted (cim hold remove), erase again.',
    });
  const outcome = await eraser.keys.destroy(subjectId);
  if (outcome === 'unknown') throw new CimError('CIM-NOT-FOUND', `subject ${subjectId} is not known`);
  const snapshotsDeleted: string[] = [];
  if (eraser.nc) {
    const snapshots = new SnapshotStore(eraser.nc);
    for (const domain of eraser.domains) {
      if (await snapshots.remove(domain, subjectId)) snapshotsDeleted.push(SnapshotStore.key(domain, subjectId));
    }
  }
  const rowsDeleted = (await eraser.readModel?.eraseSubject(subjectId)) ?? 0;
  return { subjectId, outcome, rowsDeleted, snapshotsDeleted };
}

const subjectTokenOrPlaceholder = (id: string) => (subjectToken.test(id) ? id : '(invalid)');
