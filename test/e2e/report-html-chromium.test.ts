// The HTML report page in a real browser: it opens from disk with no console message, no error
// and no request of any kind, fits a phone's width (390 px: no table scrolls sideways, chart text
// at least 9 px) and a desktop's (1280 px), and renders (a screenshot of the whole page, light and
// dark, decoded: the dark one is another picture, and darker). Run on a hand-built fixture (every
// chart, a gate) and on the page a real `cim bench quick-steady` run wrote. Needs
// Chromium (`apt-get install -y chromium`): skipped without it on a developer machine, a failure
// without it in CI.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Signer } from '../../appliance/index.js';
import { writeComplianceReports } from '../../compliance/index.js';
import { renderHtml } from '../../reports/index.js';
import { complianceInput } from '../fixtures/compliance-reports.js';
import { performanceReport } from '../fixtures/performance-report.js';
import { runCli } from '../support/cli.js';
import { decodePng, meanBrightness } from '../support/png.js';
import { tempDir } from '../support/temp-dir.js';
import { findChromium, launchChromium, type Browser, type PageHandle } from '../support/chromium.js';

const chromium = findChromium();
const inCi = Boolean(process.env.CI);
const PHONE = { width: 390, height: 844, mobile: true };
const DESKTOP = { width: 1280, height: 900 };

if (!chromium && !inCi) {
  console.warn(
    'report-html-chromium: skipped, no Chromium on PATH (install it with `apt-get install -y chromium`, or set CHROMIUM=/path/to/chrome)',
  );
}

/**
 * The tests every report page must pass. `page` writes the HTML under `dir` and gives its path and
 * how many charts it draws (undefined: at least one); it may take `setupMs` (a bench run).
 */
function describeReportPage(
  name: string,
  page: (dir: string) => Promise<{ file: string; charts?: number }>,
  setupMs: number,
): void {
  // In CI the suite runs whether or not Chromium is there, and without it every test fails naming the install.
  describe.runIf(Boolean(chromium) || inCi)(`the HTML report in Chromium: ${name}`, () => {
    // Made in beforeAll: a skipped describe still runs its body, and would leave the directory behind.
    let work: ReturnType<typeof tempDir>;
    let browser: Browser;
    let opened: PageHandle;
    let url: string;
    let charts: number | undefined;

    beforeAll(async () => {
      if (!chromium)
        throw new Error('Chromium is required in CI: apt-get install -y chromium (or set CHROMIUM=/path/to/chrome)');
      work = tempDir('report-html');
      const written = await page(work.path);
      charts = written.charts;
      url = pathToFileURL(written.file).href;
      browser = await launchChromium(chromium!);
      opened = await browser.open(url, PHONE);
    }, setupMs + 60_000);

    afterAll(async () => {
      await browser?.close();
      work?.remove();
    });

    it('given the page opened from disk, when it has loaded, then nothing was logged, thrown or refused', () => {
      expect(opened.problems()).toEqual([]);
      expect(opened.events.filter((e) => e.kind === 'console')).toEqual([]);
    });

    it('given the page opened from disk, when it has loaded, then it requested nothing but itself', () => {
      expect(opened.requests()).toEqual([]);
      expect(opened.events.some((e) => e.kind === 'request' && e.url === url)).toBe(true);
    });

    it('given a phone-wide window, when laid out, then the page does not scroll sideways and every chart is drawn', async () => {
      const layout = await opened.evaluate<{ scrollWidth: number; innerWidth: number; charts: number; drawn: number }>(
        `(() => { const charts = [...document.querySelectorAll('svg.chart')];
          return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, charts: charts.length,
                   drawn: charts.filter((c) => { const r = c.getBoundingClientRect(); return r.width > 200 && r.height > 50 && r.right <= window.innerWidth + 1; }).length }; })()`,
      );
      expect(layout.scrollWidth).toBeLessThanOrEqual(layout.innerWidth);
      if (charts === undefined) expect(layout.charts).toBeGreaterThan(0);
      else expect(layout.charts).toBe(charts);
      expect(layout.drawn).toBe(layout.charts);
    });

    it('given a desktop window (1280 px), when laid out, then the page does not scroll sideways, every chart is drawn, and it requested nothing but itself', async () => {
      const wide = await browser.open(url, DESKTOP);
      const layout = await wide.evaluate<{ scrollWidth: number; innerWidth: number; charts: number; drawn: number }>(
        `(() => { const charts = [...document.querySelectorAll('svg.chart')];
          return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, charts: charts.length,
                   drawn: charts.filter((c) => { const r = c.getBoundingClientRect(); return r.width > 200 && r.height > 50; }).length }; })()`,
      );
      expect(layout.innerWidth).toBe(DESKTOP.width);
      expect(layout.scrollWidth).toBeLessThanOrEqual(layout.innerWidth);
      if (charts !== undefined) expect(layout.charts).toBe(charts);
      expect(layout.drawn).toBe(layout.charts);
      expect(wide.requests()).toEqual([]);
      expect(wide.problems()).toEqual([]);
    });

    it('given a phone-wide window, when laid out, then no table scrolls sideways and chart text is at least 9 px', async () => {
      const fit = await opened.evaluate<{ wide: string[]; smallest: number; texts: number }>(
        `(() => { const wide = [...document.querySelectorAll('.table-wrap')].filter((w) => w.scrollWidth > w.clientWidth + 1)
            .map((w) => w.querySelector('caption')?.textContent ?? '?');
          let smallest = Infinity, texts = 0;
          for (const svg of document.querySelectorAll('svg.chart')) {
            const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
            for (const t of svg.querySelectorAll('text')) { texts++; smallest = Math.min(smallest, parseFloat(getComputedStyle(t).fontSize) * scale); }
          }
          return { wide, smallest: texts ? smallest : 99, texts }; })()`,
      );
      expect(fit.wide).toEqual([]);
      if (charts !== 0) expect(fit.texts).toBeGreaterThan(0);
      expect(fit.smallest).toBeGreaterThanOrEqual(9);
    });

    it('given the page, when captured light and dark, then both are PNGs of the whole page, and the dark one is another, darker picture', async () => {
      // REPORT_SCREENSHOT_DIR keeps them for a human to look at; by default they go with the temp dir.
      const into = process.env.REPORT_SCREENSHOT_DIR ?? work.path;
      const shots: Record<'light' | 'dark', Buffer> = { light: Buffer.alloc(0), dark: Buffer.alloc(0) };
      for (const scheme of ['light', 'dark'] as const) {
        await opened.setColorScheme(scheme);
        const png = await opened.screenshot();
        const file = join(into, `report-${name.replace(/\W+/g, '-')}-${scheme}.png`);
        writeFileSync(file, png);
        expect(existsSync(file)).toBe(true);
        expect(statSync(file).size).toBeGreaterThan(10_000);
        expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
        expect(png.readUInt32BE(16)).toBe(PHONE.width); // IHDR width
        expect(png.readUInt32BE(20)).toBeGreaterThan(PHONE.height); // the whole page, not the viewport
        shots[scheme] = png;
      }
      expect(shots.dark.equals(shots.light)).toBe(false);
      const [light, dark] = [decodePng(shots.light), decodePng(shots.dark)];
      expect([dark.width, dark.height]).toEqual([light.width, light.height]);
      // Mostly background: white (#fff) in light, #0d1117 in dark.
      expect(meanBrightness(light)).toBeGreaterThan(200);
      expect(meanBrightness(dark)).toBeLessThan(80);
    });
  });
}

describeReportPage(
  'a hand-built report with every chart and a gate',
  async (dir) => {
    const file = join(dir, 'report.html');
    writeFileSync(file, renderHtml(await performanceReport({ withBaseline: true })));
    return { file, charts: 20 };
  },
  0,
);

for (const kind of ['compliance', 'retention', 'audit'] as const) {
  describeReportPage(
    `the ${kind} report page (verdict, findings of every severity, checkpoint, evidence tables; no charts)`,
    async (dir) => {
      const written = writeComplianceReports(complianceInput(), {
        stateDir: join(dir, 'state'),
        signer: Signer.ephemeral(),
      });
      return { file: written[kind].files.html!, charts: 0 };
    },
    0,
  );
}

describeReportPage(
  'the page a real cim bench quick-steady run wrote',
  async (dir) => {
    const state = join(dir, 'state');
    const bench = await runCli(['--state', state, 'bench', 'quick-steady', '--baseline-messages', '1000'], {
      timeoutMs: 150_000,
    });
    if (bench.code !== 0)
      throw new Error(`cim bench quick-steady exited ${bench.code}:\n${bench.stdout}\n${bench.stderr}`);
    const html = readdirSync(join(state, 'reports')).filter((f) => f.endsWith('.html'));
    expect(html).toHaveLength(1);
    const file = join(state, 'reports', html[0]!);
    expect(bench.stdout).toContain(`html: ${file}`);
    expect(readFileSync(file, 'utf8')).toContain('quick-steady');
    return { file };
  },
  150_000,
);

describe.runIf(Boolean(chromium) || inCi)('the Chromium harness', () => {
  let work: ReturnType<typeof tempDir>;
  let browser: Browser;

  beforeAll(async () => {
    if (!chromium)
      throw new Error('Chromium is required in CI: apt-get install -y chromium (or set CHROMIUM=/path/to/chrome)');
    work = tempDir('report-html-harness');
    browser = await launchChromium(chromium!);
  });

  afterAll(async () => {
    await browser?.close();
    work?.remove();
  });

  it('given a page that loads an image from the network, when opened, then the harness sees the CSP refusal (it is not blind)', async () => {
    const file = join(work.path, 'leaky.html');
    writeFileSync(
      file,
      renderHtml(await performanceReport()).replace(
        '<main>',
        '<main><img alt="" src="https://example.invalid/pixel.png">',
      ),
    );
    const leaky = await browser.open(pathToFileURL(file).href, PHONE);
    const problems = leaky
      .problems()
      .map((e) => e.text)
      .join('\n');
    expect(problems).toContain('https://example.invalid/pixel.png');
    expect(problems).toContain('Content Security Policy');
  });

  it('given a page without the CSP that loads a file beside it, when opened, then the harness sees the request (it is not blind)', async () => {
    const file = join(work.path, 'no-csp.html');
    writeFileSync(join(work.path, 'pixel.png'), Buffer.alloc(0));
    const html = renderHtml(await performanceReport())
      .replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '')
      .replace('<main>', '<main><img alt="" src="pixel.png">');
    writeFileSync(file, html);
    const leaky = await browser.open(pathToFileURL(file).href, PHONE);
    expect(leaky.requests()).toEqual([pathToFileURL(join(work.path, 'pixel.png')).href]);
  });

  it('given a page that logs an error just after its load event, when opened, then the harness has it by the time open() returns', async () => {
    const file = join(work.path, 'late.html');
    writeFileSync(
      file,
      '<!doctype html><title>late</title><p>late</p><script>addEventListener("load", () => setTimeout(() => console.error("late message"), 0))</script>',
    );
    const late = await browser.open(pathToFileURL(file).href, PHONE);
    expect(late.problems().map((e) => [e.kind, e.text])).toEqual([['console', 'late message']]);
  });
});
