// Progress on stderr: the status line of `cim bench` and the progress bar of `cim replay`, redrawn
// in place on a terminal and throttled to a line every few seconds elsewhere (CI logs).
import { log } from './wiring.js';

/** One status line on a terminal (rewritten in place); elsewhere a line every ten seconds. Log lines go above it. */
export function statusLine(): { update(text: string): void; log(line: string): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  let lastPrinted = 0;
  return {
    update(text) {
      if (tty) {
        process.stderr.write(`\r\x1b[K${text}`);
        shown = true;
      } else if (Date.now() - lastPrinted >= 10_000) {
        lastPrinted = Date.now();
        log(text);
      }
    },
    log(line) {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
      log(line);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}

/** Progress on stderr: one line redrawn in a terminal, a line every few seconds otherwise. */
export function progressBar(label: string): {
  update: (done: number, total: number, perSecond: number) => void;
  done: () => void;
} {
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  return {
    update(done, total, perSecond) {
      const pct = total > 0 ? Math.min(100, (100 * done) / total) : 100;
      const line = `${label}: ${done}/${total} (${pct.toFixed(0)}%) ${Math.round(perSecond)} events/s`;
      if (tty) {
        const width = 24;
        const filled = Math.round((pct / 100) * width);
        process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}`);
      } else if (Date.now() - lastLine > 2_000) {
        lastLine = Date.now();
        log(line);
      }
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}
