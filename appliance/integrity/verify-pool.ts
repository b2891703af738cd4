// The worker threads of a parallel verification, and the in-thread stand-in with the same
// interface: chunks go out in stream order and their results are taken back in that order.
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { verifyChunk, type ChunkResult, type KernelContext, type PackedChunk } from './verify-kernel.js';

export interface ChunkRunner {
  /** Threads checking chunks (0: this one). */
  readonly workers: number;
  run(chunk: PackedChunk): Promise<ChunkResult>;
  close(): Promise<void>;
}

/** Worker threads for a machine: one per core but the one reading (and at least one). */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
}

/**
 * The worker's script. Built, it is the sibling `verify-worker.js`. Run from the .ts sources (as
 * vitest runs them), there is no such file and Node 20 cannot start a worker on TypeScript: then
 * the build's copy in dist/ is used when it is at least as new as the source kernel, so tests
 * exercise the real threads; without one, undefined (and verification runs in-thread).
 */
export function workerScript(): URL | undefined {
  const sibling = new URL('./verify-worker.js', import.meta.url);
  if (existsSync(sibling)) return sibling;
  if (!import.meta.url.endsWith('.ts')) return undefined;
  const built = new URL('../../dist/appliance/integrity/verify-worker.js', import.meta.url);
  const kernel = new URL('../../dist/appliance/integrity/verify-kernel.js', import.meta.url);
  const source = fileURLToPath(new URL('./verify-kernel.ts', import.meta.url));
  const mtime = (path: string) => statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (!existsSync(built) || mtime(fileURLToPath(kernel)) < mtime(source)) return undefined;
  return built;
}

/** The kernel run in this thread: for streams too small to repay starting workers. */
export function inThreadRunner(context: KernelContext): ChunkRunner {
  return {
    workers: 0,
    run: (chunk) => Promise.resolve(verifyChunk(chunk, context)),
    close: () => Promise.resolve(),
  };
}

interface Pending {
  resolve: (result: ChunkResult) => void;
  reject: (error: Error) => void;
}

/** `size` worker threads; a chunk goes to the one with the fewest chunks waiting. */
export function workerRunner(context: KernelContext, size: number, script: URL): ChunkRunner {
  const threads = Array.from({ length: size }, () => {
    const worker = new Worker(script, { workerData: context });
    const pending: Pending[] = [];
    const fail = (error: Error) => {
      for (const p of pending.splice(0)) p.reject(error);
    };
    worker.on('message', (result: ChunkResult) => pending.shift()?.resolve(result));
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`a verification worker exited (code ${code})`)));
    return { worker, pending };
  });
  return {
    workers: size,
    run(chunk) {
      const thread = threads.reduce((a, b) => (b.pending.length < a.pending.length ? b : a));
      return new Promise<ChunkResult>((resolve, reject) => {
        thread.pending.push({ resolve, reject });
        thread.worker.postMessage(chunk, [
          chunk.seqs.buffer as ArrayBuffer,
          chunk.offsets.buffer as ArrayBuffer,
          chunk.bytes.buffer as ArrayBuffer,
        ]);
      });
    },
    async close() {
      await Promise.all(threads.map((t) => t.worker.terminate()));
    },
  };
}
