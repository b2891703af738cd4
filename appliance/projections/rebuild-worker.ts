// The applying side of a rebuild on a worker thread (see rebuild-thread.ts): builds the projection
// from the served domains, opens the new read model, and applies each batch the reading thread
// hands over, in order, each with its checkpoint in one transaction.
import { existsSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CimError, toCimError } from '../errors.js';
import { servedDomains } from '../domains/registry.js';
import { FieldEncryption, personalDataOf } from '../privacy/field-encryption.js';
import { keyStorePath, SubjectKeyStore } from '../privacy/key-store.js';
import { applyMessages, type RebuildSetup } from './rebuild-batch.js';
import type { FromWorker, RebuildWorkerData, ToWorker } from './rebuild-thread.js';
import { ReadModel } from './read-model.js';

const data = workerData as RebuildWorkerData;
const port = parentPort!;
const inFlight = new Int32Array(data.inFlight);
const post = (m: FromWorker) => port.postMessage(m);

/** The projection as the served domains define it, with the replayed one's domains, and its upcasters and decryption. */
async function setUp(): Promise<{ setup: RebuildSetup; keys: SubjectKeyStore | undefined }> {
  const domains = await servedDomains(data.setup.plugins ?? []);
  const wanted = data.projection;
  const owner = domains.find((d) => d.definition.projections?.some((p) => p.name === wanted.name));
  const served = owner?.definition.projections?.find((p) => p.name === wanted.name);
  if (!owner || !served)
    throw new CimError('CIM-NOT-FOUND', `the rebuild worker finds no served projection ${wanted.name}`, {
      hint: 'Rebuild it on the reading thread (no worker), or name the plugin that serves it.',
    });
  if (JSON.stringify(served.tables) !== JSON.stringify(wanted.tables))
    throw new CimError(
      'CIM-INVALID-INPUT',
      `the rebuild worker's projection ${wanted.name} has other tables than the one to replay`,
      { hint: 'Rebuild it on the reading thread (no worker).' },
    );
  let keys: SubjectKeyStore | undefined;
  let protection: FieldEncryption | undefined;
  const privacy = data.setup.privacy;
  if (privacy) {
    const options = privacy.keyStoreDir ? { dir: privacy.keyStoreDir } : {};
    keys = existsSync(keyStorePath(privacy.stateDir, privacy.keyStoreDir))
      ? SubjectKeyStore.open(privacy.stateDir, options)
      : undefined;
    protection = new FieldEncryption(personalDataOf(domains), keys);
  }
  return {
    setup: { projection: { ...served, domains: [...wanted.domains] }, upcasters: owner.upcasters, protection },
    keys,
  };
}

let model: ReadModel | undefined;
let setup: RebuildSetup | undefined;
let keys: SubjectKeyStore | undefined;
let failed = false;
/** A time bound was met: nothing after it is applied. */
let ended = false;
const lastSeqs: Record<string, number> = {};

function fail(error: unknown): void {
  failed = true;
  // The reading thread may be waiting for room: it stops waiting, and learns why from the message.
  Atomics.store(inFlight, 1, 1);
  Atomics.notify(inFlight, 0);
  const e = toCimError(error);
  post({ type: 'error', code: e.code, message: e.message, hint: e.hint });
}

try {
  ({ setup, keys } = await setUp());
  model = ReadModel.open({ path: data.path, projections: [setup.projection], rebuild: true });
  post({ type: 'ready' });
} catch (error) {
  fail(error);
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'close') {
    model?.close();
    keys?.close();
    post({ type: 'closed', lastSeqs });
    port.close();
    return;
  }
  try {
    if (failed || ended || !model || !setup) return;
    const bodies: Uint8Array[] = new Array(m.ends.length);
    for (let i = 0, start = 0; i < m.ends.length; i++) {
      bodies[i] = m.bytes.subarray(start, m.ends[i]);
      start = m.ends[i]!;
    }
    const result = applyMessages(
      model,
      setup,
      { domain: m.domain, stream: m.stream, seqs: Array.from(m.seqs), bodies },
      lastSeqs[m.domain] ?? 0,
      data.toTimeMs,
    );
    lastSeqs[m.domain] = result.lastSeq;
    ended = result.ended;
    post({ type: 'applied', domain: m.domain, ...result });
  } catch (error) {
    fail(error);
  } finally {
    Atomics.sub(inFlight, 0, 1);
    Atomics.notify(inFlight, 0);
  }
});
