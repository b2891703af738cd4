// Headless Chromium, the system's binary (Debian's `chromium`), driven with playwright-core: a page
// opened with `open()` records what a report page must never do — console messages, uncaught
// exceptions, browser log entries (a Content-Security-Policy refusal lands there) and network
// requests. Playwright reports console messages and exceptions; the log entries and every request
// (file:// ones too) come from a DevTools session on the page, as Chromium reports them.
import { spawnSync } from 'node:child_process';
import { chromium, type BrowserContext } from 'playwright-core';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/** The Chromium binary: $CHROMIUM, else the first of the usual names on PATH; undefined when there is none. */
export function findChromium(): string | undefined {
  const named = process.env.CHROMIUM;
  for (const candidate of named ? [named] : CANDIDATES) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    if (probe.status === 0 && /chrom/i.test(probe.stdout)) return candidate;
  }
  return undefined;
}

export interface PageEvent {
  kind: 'console' | 'exception' | 'log' | 'request';
  level: string;
  text: string;
  url?: string;
}

export interface PageHandle {
  readonly events: PageEvent[];
  /** The requests the page made, other than for the page itself. */
  requests(): string[];
  /** Console messages, exceptions and browser log entries at warning level or above. */
  problems(): PageEvent[];
  /** The expression's value (the value it resolves to, when it gives a promise). */
  evaluate<T>(expression: string): Promise<T>;
  /** A PNG of the whole page (not just the viewport), or of the first element `selector` matches. */
  screenshot(selector?: string): Promise<Buffer>;
  setColorScheme(scheme: 'light' | 'dark'): Promise<void>;
}

export interface Browser {
  open(url: string, viewport: { width: number; height: number; mobile?: boolean }): Promise<PageHandle>;
  close(): Promise<void>;
}

export async function launchChromium(binary: string, timeoutMs = 30_000): Promise<Browser> {
  const browser = await chromium.launch({
    // Playwright wants a path: `chromium` as found on PATH.
    executablePath: binary.includes('/')
      ? binary
      : spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).stdout.trim(),
    headless: true,
    timeout: timeoutMs,
    // No sandbox as root (CI); no GPU, no first-run work, nothing fetched from the network.
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const contexts: BrowserContext[] = [];
  return {
    async open(url, viewport) {
      const context = await browser.newContext({
        viewport: { width: viewport.width, height: viewport.height },
        deviceScaleFactor: 1,
        isMobile: viewport.mobile ?? false,
      });
      contexts.push(context);
      const page = await context.newPage();
      page.setDefaultTimeout(timeoutMs);
      const events: PageEvent[] = [];
      page.on('console', (m) => events.push({ kind: 'console', level: m.type(), text: m.text() }));
      page.on('pageerror', (error) =>
        events.push({ kind: 'exception', level: 'error', text: error.stack ?? error.message }),
      );
      const devtools = await context.newCDPSession(page);
      devtools.on('Log.entryAdded', ({ entry }) =>
        events.push({ kind: 'log', level: entry.level, text: entry.text, ...(entry.url ? { url: entry.url } : {}) }),
      );
      devtools.on('Network.requestWillBeSent', ({ request }) =>
        events.push({ kind: 'request', level: 'info', text: request.url, url: request.url }),
      );
      await devtools.send('Log.enable');
      await devtools.send('Network.enable');
      // Late console or CSP messages come after the load event: wait until the network is idle
      // (nothing in flight, nothing more to refuse), then for a frame drawn and a task run in the page.
      await page.goto(url, { waitUntil: 'networkidle' });
      await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => setTimeout(() => resolve(true), 0)))');
      return {
        events,
        requests: () => events.filter((e) => e.kind === 'request' && e.url !== url).map((e) => e.url!),
        problems: () => events.filter((e) => e.kind !== 'request' && ['error', 'warning', 'assert'].includes(e.level)),
        evaluate: async <T>(expression: string) => (await page.evaluate(expression)) as T,
        async screenshot(selector) {
          if (!selector) return page.screenshot({ fullPage: true, type: 'png' });
          const element = await page.$(selector);
          if (!element) throw new Error(`screenshot: nothing matches ${selector}`);
          return element.screenshot({ type: 'png' });
        },
        async setColorScheme(scheme) {
          await page.emulateMedia({ colorScheme: scheme });
        },
      };
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close();
    },
  };
}
