// Clean shutdown on Ctrl-C and SIGTERM: whatever started something (a cluster, a connection)
// registers a closer; the first signal runs them all, newest first, then exits; a second one
// exits at once.
type Closer = () => Promise<void> | void;

const closers: Closer[] = [];
let installed = false;
let shuttingDown = false;

/** Registers a closer for signal-driven shutdown; returns a function that removes it. */
export function onShutdown(closer: Closer): () => void {
  closers.push(closer);
  return () => {
    const index = closers.indexOf(closer);
    if (index >= 0) closers.splice(index, 1);
  };
}

export function installSignalHandlers(log: (line: string) => void): void {
  if (installed) return;
  installed = true;
  const handle = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? 130 : 143;
    if (shuttingDown) process.exit(code);
    shuttingDown = true;
    log(`${signal}: shutting down cleanly (again to force)`);
    void (async () => {
      for (const closer of closers.splice(0).reverse()) {
        try {
          await closer();
        } catch (error) {
          log(`while shutting down: ${(error as Error).message}`);
        }
      }
      process.exit(code);
    })();
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}
