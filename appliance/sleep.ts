// The one sleep of the code base: waits `ms`, or less when the signal aborts (Ctrl-C), so no wait
// holds up a shutdown. It resolves on abort rather than rejecting: the caller checks the signal.
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
