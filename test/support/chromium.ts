// Headless Chromium driven over the DevTools protocol without any npm package: Chromium's
// `--remote-debugging-pipe` speaks CDP as NUL-terminated JSON on file descriptors 3 (to it) and 4
// (from it), so Node's child_process is the whole client (no WebSocket, no puppeteer). A page
// opened with `open()` records what a report page must never do: console messages, uncaught
// exceptions, browser log entries (a CSP refusal lands there) and network requests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

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
  /** The expression's value; with `awaitPromise`, the value the promise it gives resolves to. */
  evaluate<T>(expression: string, awaitPromise?: boolean): Promise<T>;
  /** A PNG of the whole page (not just the viewport), or of the first element `selector` matches. */
  screenshot(selector?: string): Promise<Buffer>;
  setColorScheme(scheme: 'light' | 'dark'): Promise<void>;
}

export interface Browser {
  open(url: string, viewport: { width: number; height: number; mobile?: boolean }): Promise<PageHandle>;
  close(): Promise<void>;
}

interface Pending {
  resolve: (value: Record<string, unknown>) => void;
  reject: (error: Error) => void;
  method: string;
}

export async function launchChromium(binary: string, timeoutMs = 30_000): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'cim-chromium-'));
  const child: ChildProcess = spawn(
    binary,
    [
      '--headless=new',
      '--remote-debugging-pipe',
      // Root in a container has no user namespace to sandbox with.
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-extensions',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--mute-audio',
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;

  let nextId = 1;
  const pending = new Map<number, Pending>();
  const listeners = new Set<(method: string, params: Record<string, unknown>, sessionId?: string) => void>();
  let buffered = '';
  let exited = false;
  fromBrowser.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let end = buffered.indexOf('\0'); end >= 0; end = buffered.indexOf('\0')) {
      const message = JSON.parse(buffered.slice(0, end)) as {
        id?: number;
        method?: string;
        params?: Record<string, unknown>;
        result?: Record<string, unknown>;
        error?: { message: string };
        sessionId?: string;
      };
      buffered = buffered.slice(end + 1);
      if (message.id !== undefined) {
        const waiter = pending.get(message.id);
        pending.delete(message.id);
        if (message.error) waiter?.reject(new Error(`${waiter.method}: ${message.error.message}`));
        else waiter?.resolve(message.result ?? {});
      } else if (message.method) {
        for (const listener of listeners) listener(message.method, message.params ?? {}, message.sessionId);
      }
    }
  });
  child.on('exit', (code, signal) => {
    exited = true;
    for (const waiter of pending.values())
      waiter.reject(new Error(`chromium exited (${code ?? signal}) during ${waiter.method}: ${stderr}`));
    pending.clear();
  });
  toBrowser.on('error', () => {}); // a write after exit; the exit handler has already failed the caller

  const send = (
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> => {
    if (exited) return Promise.reject(new Error(`chromium is not running (${method}): ${stderr}`));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`chromium did not answer ${method} within ${timeoutMs} ms: ${stderr}`));
      }, timeoutMs);
      pending.set(id, {
        method,
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      toBrowser.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  };

  const waitForEvent = (sessionId: string, method: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => (listeners.delete(listener), reject(new Error(`no ${method} within ${timeoutMs} ms`))),
        timeoutMs,
      );
      const listener = (m: string, _: Record<string, unknown>, s?: string) => {
        if (m === method && s === sessionId) {
          clearTimeout(timer);
          listeners.delete(listener);
          resolve();
        }
      };
      listeners.add(listener);
    });

  /** Resolves once `done()` holds, checked on every message from the browser. */
  const waitFor = (done: () => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (done()) return resolve();
      const timer = setTimeout(
        () => (listeners.delete(listener), reject(new Error(`no ${what} within ${timeoutMs} ms`))),
        timeoutMs,
      );
      const listener = () => {
        if (!done()) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolve();
      };
      listeners.add(listener);
    });

  try {
    await send('Browser.getVersion');
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }

  return {
    async open(url, viewport) {
      const { targetId } = (await send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
      const { sessionId } = (await send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
      const events: PageEvent[] = [];
      listeners.add((method, params, s) => {
        if (s !== sessionId) return;
        if (method === 'Runtime.consoleAPICalled') {
          const args = (params.args as { value?: unknown; description?: string }[]) ?? [];
          events.push({
            kind: 'console',
            level: String(params.type),
            text: args.map((a) => String(a.value ?? a.description ?? '')).join(' '),
          });
        } else if (method === 'Runtime.exceptionThrown') {
          const details = params.exceptionDetails as { text?: string; exception?: { description?: string } };
          events.push({
            kind: 'exception',
            level: 'error',
            text: details.exception?.description ?? details.text ?? 'exception',
          });
        } else if (method === 'Log.entryAdded') {
          const entry = params.entry as { level: string; text: string; url?: string };
          events.push({ kind: 'log', level: entry.level, text: entry.text, ...(entry.url ? { url: entry.url } : {}) });
        } else if (method === 'Network.requestWillBeSent') {
          const request = params.request as { url: string };
          events.push({ kind: 'request', level: 'info', text: request.url, url: request.url });
        }
      });
      for (const domain of ['Runtime', 'Log', 'Network', 'Page']) await send(`${domain}.enable`, {}, sessionId);
      await send('Page.setLifecycleEventsEnabled', { enabled: true }, sessionId);
      await send(
        'Emulation.setDeviceMetricsOverride',
        { width: viewport.width, height: viewport.height, deviceScaleFactor: 1, mobile: viewport.mobile ?? false },
        sessionId,
      );
      // Lifecycle events of every document the target loads (about:blank first): the navigation's loader is known only once it answers.
      const lifecycle: { loaderId: string; name: string }[] = [];
      listeners.add((method, params, s) => {
        if (s === sessionId && method === 'Page.lifecycleEvent')
          lifecycle.push({ loaderId: String(params.loaderId), name: String(params.name) });
      });
      const loaded = waitForEvent(sessionId, 'Page.loadEventFired');
      const navigation = (await send('Page.navigate', { url }, sessionId)) as { errorText?: string; loaderId?: string };
      if (navigation.errorText) throw new Error(`chromium could not open ${url}: ${navigation.errorText}`);
      await loaded;
      const evaluate = async <T>(expression: string, awaitPromise = false): Promise<T> => {
        const reply = (await send(
          'Runtime.evaluate',
          { expression, returnByValue: true, awaitPromise },
          sessionId,
        )) as { result: { value: T }; exceptionDetails?: { text: string } };
        if (reply.exceptionDetails) throw new Error(`evaluate ${expression}: ${reply.exceptionDetails.text}`);
        return reply.result.value;
      };
      // Late console or CSP messages come after the load event. Wait until the page's network is idle
      // (nothing in flight, nothing more to refuse), then for a frame drawn and a task run in the page:
      // the browser sends a session's messages in order, so whatever the page caused before that
      // round trip has arrived before its answer.
      await waitFor(
        () =>
          lifecycle.some(
            (e) =>
              e.name === 'networkIdle' && (navigation.loaderId === undefined || e.loaderId === navigation.loaderId),
          ),
        `networkIdle of ${url}`,
      );
      await evaluate('new Promise((resolve) => requestAnimationFrame(() => setTimeout(() => resolve(true), 0)))', true);
      return {
        events,
        requests: () => events.filter((e) => e.kind === 'request' && e.url !== url).map((e) => e.url!),
        problems: () => events.filter((e) => e.kind !== 'request' && ['error', 'warning', 'assert'].includes(e.level)),
        evaluate,
        async screenshot(selector) {
          const { cssContentSize } = (await send('Page.getLayoutMetrics', {}, sessionId)) as {
            cssContentSize: { width: number; height: number };
          };
          let clip = {
            x: 0,
            y: 0,
            width: Math.ceil(cssContentSize.width),
            height: Math.ceil(cssContentSize.height),
            scale: 1,
          };
          if (selector) {
            const box = await evaluate<{ x: number; y: number; width: number; height: number } | null>(
              `(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return null; const r = e.getBoundingClientRect();
                 return { x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height }; })()`,
            );
            if (!box) throw new Error(`screenshot: nothing matches ${selector}`);
            clip = { ...box, scale: 1 };
          }
          const { data } = (await send(
            'Page.captureScreenshot',
            { format: 'png', captureBeyondViewport: true, clip },
            sessionId,
          )) as { data: string };
          return Buffer.from(data, 'base64');
        },
        async setColorScheme(scheme) {
          await send(
            'Emulation.setEmulatedMedia',
            { features: [{ name: 'prefers-color-scheme', value: scheme }] },
            sessionId,
          );
        },
      };
    },
    async close() {
      if (!exited) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        await send('Browser.close').catch(() => {});
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await gone;
        clearTimeout(timer);
      }
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
