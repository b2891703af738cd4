// The HTML report page in a real browser: it opens from disk with no console message, no error
// and no request of any kind, fits a phone's width, and renders (a screenshot of the whole page,
// light and dark). Needs Chromium (`apt-get install -y chromium`): skipped without it on a
// developer machine, a failure without it in CI.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../reports/index.js';
import { performanceReport } from '../fixtures/performance-report.js';
import { tempDir } from '../support/temp-dir.js';
import { findChromium, launchChromium, type Browser, type PageHandle } from '../support/chromium.js';

const chromium = findChromium();
const inCi = Boolean(process.env.CI);
const PHONE = { width: 412, height: 915, mobile: true };

if (!chromium && !inCi) {
  console.warn('report-html-chromium: skipped, no Chromium on PATH (install it with `apt-get install -y chromium`, or set CHROMIUM=/path/to/chrome)');
}

// In CI the suite runs whether or not Chromium is there, and without it every test fails naming the install.
describe.runIf(Boolean(chromium) || inCi)('the HTML report in Chromium', () => {
  // Made in beforeAll: a skipped describe still runs its body, and would leave the directory behind.
  let work: ReturnType<typeof tempDir>;
  let browser: Browser;
  let page: PageHandle;
  let url: string;

  beforeAll(async () => {
    if (!chromium) throw new Error('Chromium is required in CI: apt-get install -y chromium (or set CHROMIUM=/path/to/chrome)');
    work = tempDir('report-html');
    const file = join(work.path, 'report.html');
    writeFileSync(file, renderHtml(await performanceReport({ withBaseline: true })));
    url = pathToFileURL(file).href;
    browser = await launchChromium(chromium!);
    page = await browser.open(url, PHONE);
  });

  afterAll(async () => {
    await browser?.close();
    work?.remove();
  });

  it('given the page opened from disk, when it has loaded, then nothing was logged, thrown or refused', () => {
    expect(page.problems()).toEqual([]);
    expect(page.events.filter((e) => e.kind === 'console')).toEqual([]);
  });

  it('given the page opened from disk, when it has loaded, then it requested nothing but itself', () => {
    expect(page.requests()).toEqual([]);
    expect(page.events.some((e) => e.kind === 'request' && e.url === url)).toBe(true);
  });

  it('given a phone-wide window, when laid out, then the page does not scroll sideways and every chart is drawn', async () => {
    const layout = await page.evaluate<{ scrollWidth: number; innerWidth: number; charts: number; drawn: number }>(
      `(() => { const charts = [...document.querySelectorAll('svg.chart')];
        return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, charts: charts.length,
                 drawn: charts.filter((c) => { const r = c.getBoundingClientRect(); return r.width > 200 && r.height > 50 && r.right <= window.innerWidth + 1; }).length }; })()`,
    );
    expect(layout.scrollWidth).toBeLessThanOrEqual(layout.innerWidth);
    expect(layout.charts).toBe(13);
    expect(layout.drawn).toBe(layout.charts);
  });

  it('given the page, when captured light and dark, then both screenshots are PNGs of the whole page', async () => {
    // REPORT_SCREENSHOT_DIR keeps them for a human to look at; by default they go with the temp dir.
    const into = process.env.REPORT_SCREENSHOT_DIR ?? work.path;
    for (const scheme of ['light', 'dark'] as const) {
      await page.setColorScheme(scheme);
      const png = await page.screenshot();
      const file = join(into, `report-${scheme}.png`);
      writeFileSync(file, png);
      expect(existsSync(file)).toBe(true);
      expect(statSync(file).size).toBeGreaterThan(10_000);
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      expect(png.readUInt32BE(16)).toBe(PHONE.width); // IHDR width
      expect(png.readUInt32BE(20)).toBeGreaterThan(PHONE.height); // the whole page, not the viewport
    }
  });

  it('given a page that loads an image from the network, when opened, then the harness sees the CSP refusal (it is not blind)', async () => {
    const file = join(work.path, 'leaky.html');
    writeFileSync(file, renderHtml(await performanceReport()).replace('<main>', '<main><img alt="" src="https://example.invalid/pixel.png">'));
    const leaky = await browser.open(pathToFileURL(file).href, PHONE);
    const problems = leaky.problems().map((e) => e.text).join('\n');
    expect(problems).toContain('https://example.invalid/pixel.png');
    expect(problems).toContain('Content Security Policy');
  });

  it('given a page without the CSP that loads a file beside it, when opened, then the harness sees the request (it is not blind)', async () => {
    const file = join(work.path, 'no-csp.html');
    writeFileSync(join(work.path, 'pixel.png'), Buffer.alloc(0));
    const html = renderHtml(await performanceReport()).replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '').replace('<main>', '<main><img alt="" src="pixel.png">');
    writeFileSync(file, html);
    const leaky = await browser.open(pathToFileURL(file).href, PHONE);
    expect(leaky.requests()).toEqual([pathToFileURL(join(work.path, 'pixel.png')).href]);
  });
});
