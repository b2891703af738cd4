// The reading side of a rebuild on a worker thread. The reading thread only copies each message's
// bytes into a batch and hands the batch over (its buffer transferred, not copied); decoding, the
// projection and SQLite run on the worker (rebuild-worker.ts), so reading and applying overlap on
// two cores. A bounded number of batches is in flight: when the worker falls behind, the reading
// thread blocks, the socket fills and the server stops sending, so memory stays bounded.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CimError, type CimErrorCode } from '../errors.js';
import type { ProjectionDefinition } from '../decider/types.js';
import type { AppliedBatch } from './rebuild-batch.js';

/**
 * What the worker needs to build the projection itself, since functions (a projection's `apply`,
 * upcasters, a key store) cannot be passed to a thread: it loads the served domains and finds the
 * projection by name there, with the same tables as the one replayed.
 */
export interface RebuildWorkerSetup {
  /** Domain plugins served beside the reference domains (module paths, as in the configuration). */
  plugins?: readonly string[];
  /**
   * Decrypt personal data as `cim replay` does: with the subject key store of `stateDir` (in
   * `keyStoreDir`) when there is one; without it, or for an erased subject, the fields are null.
   */
  privacy?: { stateDir: string; keyStoreDir?: string | undefined };
}

/** workerData of rebuild-worker.ts. */
export interface RebuildWorkerData {
  path: string;
  projection: { name: string; domains: readonly string[]; tables: readonly string[] };
  setup: RebuildWorkerSetup;
  toTimeMs: number | undefined;
  /** Int32 [0]: batches handed over and not yet applied; [1]: 1 once the worker failed (nothing more is applied). */
  inFlight: SharedArrayBuffer;
}

/** A batch as it crosses to the worker: the bodies back to back in one buffer. */
export interface PackedBatch {
  type: 'batch';
  domain: string;
  stream: string;
  seqs: Float64Array;
  /** bodies[i] is bytes[ends[i-1] … ends[i]). */
  ends: Uint32Array;
  bytes: Uint8Array;
}

export type ToWorker = PackedBatch | { type: 'close' };

export type FromWorker =
  | { type: 'ready' }
  | ({ type: 'applied'; domain: string } & AppliedBatch)
  | { type: 'error'; code: CimErrorCode; message: string; hint?: string | undefined }
  | { type: 'closed'; lastSeqs: Record<string, number> };

/** Batches handed over before the reader waits for the worker: enough to keep it busy, few enough to bound memory. */
const MAX_IN_FLIGHT = 4;

/** How long the reader waits for the worker to take a batch before it gives up on it. */
const WORKER_STALL_MS = 60_000;

/** The worker's script: beside this module when built; from sources (tests), the built copy under dist/. */
function workerScript(): URL {
  const here = new URL('./rebuild-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = fileURLToPath(here).replace(/\/appliance\/projections\/rebuild-worker\.js$/, '/dist$&');
  if (!existsSync(built))
    throw new CimError('CIM-INTERNAL', `the rebuild worker ${built} is missing`, { hint: 'Run `npm run build`.' });
  return pathToFileURL(built);
}

export class RebuildThread {
  private readonly worker: Worker;
  private readonly inFlight: Int32Array;
  private failure: CimError | undefined;
  private closedWith: ((lastSeqs: Record<string, number>) => void) | undefined;
  private readonly ready: Promise<void>;
  private readonly exited: Promise<void>;

  /**
   * @param onApplied told about each batch the worker committed (with its checkpoint), in order.
   */
  constructor(
    path: string,
    projection: ProjectionDefinition,
    setup: RebuildWorkerSetup,
    toTimeMs: number | undefined,
    private readonly onApplied: (result: AppliedBatch & { domain: string }) => void,
  ) {
    const inFlight = new SharedArrayBuffer(8);
    this.inFlight = new Int32Array(inFlight);
    const data: RebuildWorkerData = {
      path,
      projection: { name: projection.name, domains: projection.domains, tables: projection.tables },
      setup,
      toTimeMs,
      inFlight,
    };
    this.worker = new Worker(workerScript(), { workerData: data });
    let readyWith!: () => void;
    let failWith!: (error: CimError) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      readyWith = resolve;
      failWith = reject;
    });
    // The reader awaits `ready` first; a rejection seen later is also in `failure`.
    this.ready.catch(() => {});
    this.worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'ready':
          return readyWith();
        case 'applied':
          return this.onApplied(m);
        case 'error':
          this.failure ??= new CimError(m.code, m.message, m.hint ? { hint: m.hint } : {});
          return failWith(this.failure);
        case 'closed':
          return this.closedWith?.(m.lastSeqs);
      }
    });
    this.worker.on('error', (error) => {
      this.failure ??= new CimError('CIM-INTERNAL', `the rebuild worker failed: ${error.message}`, { cause: error });
      failWith(this.failure);
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
  }

  /** Resolves once the worker has opened the model with the projection it found; rejects with why it could not. */
  started(): Promise<void> {
    return this.ready;
  }

  /** The worker's failure, once it reported one: the rebuild stops reading. */
  get failed(): CimError | undefined {
    return this.failure;
  }

  /**
   * Hands a batch to the worker. Blocks (the whole thread, on purpose: the socket then fills and
   * the server holds back) while MAX_IN_FLIGHT batches are unapplied.
   */
  submit(domain: string, stream: string, seqs: readonly number[], bodies: readonly Uint8Array[]): void {
    if (this.failure) return;
    let size = 0;
    for (const b of bodies) size += b.length;
    const buffers = {
      bytes: new ArrayBuffer(size),
      ends: new ArrayBuffer(bodies.length * 4),
      seqs: new ArrayBuffer(seqs.length * 8),
    };
    const bytes = new Uint8Array(buffers.bytes);
    const ends = new Uint32Array(buffers.ends);
    let at = 0;
    for (let i = 0; i < bodies.length; i++) {
      bytes.set(bodies[i]!, at);
      at += bodies[i]!.length;
      ends[i] = at;
    }
    const packedSeqs = new Float64Array(buffers.seqs);
    packedSeqs.set(seqs);
    const batch: PackedBatch = { type: 'batch', domain, stream, seqs: packedSeqs, ends, bytes };
    const waitedSince = Date.now();
    for (;;) {
      const n = Atomics.load(this.inFlight, 0);
      // A worker that failed takes nothing more; its error message is on its way to this thread.
      if (n < MAX_IN_FLIGHT || Atomics.load(this.inFlight, 1) === 1) break;
      Atomics.wait(this.inFlight, 0, n, 100);
      if (Date.now() - waitedSince > WORKER_STALL_MS) {
        this.failure ??= new CimError(
          'CIM-UNAVAILABLE',
          `the rebuild worker took no batch for ${WORKER_STALL_MS / 1_000} s (${MAX_IN_FLIGHT} waiting)`,
        );
        return;
      }
    }
    Atomics.add(this.inFlight, 0, 1);
    this.worker.postMessage(batch, [buffers.bytes, buffers.ends, buffers.seqs]);
  }

  /**
   * Waits until every batch handed over is committed, closes the model and ends the worker;
   * resolves with each domain's checkpoint. Rejects with the worker's failure, if there was one.
   */
  async close(): Promise<Record<string, number>> {
    try {
      await this.ready;
    } catch (error) {
      await this.worker.terminate();
      throw error;
    }
    const closed = new Promise<Record<string, number>>((resolve) => (this.closedWith = resolve));
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    const lastSeqs = await Promise.race([closed, this.exited.then(() => undefined)]);
    await this.exited;
    if (this.failure) throw this.failure;
    if (!lastSeqs) throw new CimError('CIM-INTERNAL', 'the rebuild worker ended before it closed the read model');
    return lastSeqs;
  }

  /** Ends the worker without waiting for what it has not applied (the model is thrown away). */
  async abort(): Promise<void> {
    await this.worker.terminate();
  }
}
