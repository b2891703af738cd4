// A worker thread of a parallel verification: checks the chunks it is sent (verify-kernel.ts) and
// sends each result back, its buffers (and the chunk's, for reuse) transferred, not copied.
import { parentPort, workerData } from 'node:worker_threads';
import { verifyChunk, type KernelContext, type PackedChunk } from './verify-kernel.js';

const context = workerData as KernelContext;
parentPort!.on('message', (chunk: PackedChunk) => {
  const result = verifyChunk(chunk, context);
  parentPort!.postMessage(result, [
    result.leafHashes.buffer as ArrayBuffer,
    result.seqs.buffer as ArrayBuffer,
    result.offsets.buffer as ArrayBuffer,
    result.bytes.buffer as ArrayBuffer,
  ]);
});
