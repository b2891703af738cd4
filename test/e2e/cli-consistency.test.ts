// The command line behaves the same way everywhere: commander's own errors in the `cim: error
// CODE: message` form with exit 2, read-only verbs that create nothing in a fresh directory,
// `cim --help` with a one-line summary per verb, and descriptions wrapped by the terminal width
// rather than by the line breaks of the source.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/temp-dir.js';

let work: ReturnType<typeof tempDir>;
beforeAll(() => {
  work = tempDir('cli-consistency');
});
afterAll(() => work?.remove());

describe("commander's errors", () => {
  it.each([
    [['bogus'], "unknown command 'bogus'"],
    [['gate'], "required option '--baseline <ref>' not specified"],
    [['report', 'list', '--limit'], "option '--limit <n>' argument missing"],
    [['report', 'list', '--bogus'], "unknown option '--bogus'"],
  ])('given cim %j, exits 2 with one cim error line and a hint', async (args, message) => {
    const result = await runCli(['--state', join(work.path, 'unused'), ...args]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(`cim: error CIM-INVALID-INPUT: ${message}\n`);
    expect(result.stderr).toContain('cim: hint: run `cim --help`');
    expect(result.stderr).not.toMatch(/^error:/m);
  });
});

describe('read-only verbs', () => {
  it.each([
    [['report', 'list'], 0],
    [['report', 'list', '--json'], 0],
    [['report', 'show', 'latest'], 2],
    [['report', 'verify', 'latest'], 2],
    [['report', 'render', 'latest', '--format', 'markdown'], 2],
    [['gate', '--baseline', 'latest', '--candidate', 'latest'], 2],
    [['scenario', 'list'], 0],
  ])('given a fresh directory, cim %j creates no state in it', async (args, code) => {
    const dir = tempDir('cli-readonly');
    try {
      const result = await runCli(args, { cwd: dir.path });
      expect(result.code, result.stderr).toBe(code);
      expect(readdirSync(dir.path)).toEqual([]);
    } finally {
      dir.remove();
    }
  });
});

describe('help', () => {
  it('lists every verb with its one-line summary', async () => {
    const { stdout, code } = await runCli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/bench \[options\] \[scenario\.\.\.\]\s+the main job: run scenarios on a real cluster,/);
    expect(stdout).toMatch(/gate \[options\]\s+the CI performance gate: a candidate report\s+against a baseline/);
    expect(stdout).toContain('4 internal error');
  });

  it("wraps a verb's description to the width, not at the source's line breaks", async () => {
    const { stdout } = await runCli(['bench', '--help']);
    const description = stdout.split('\n\n')[1]!.split('\n');
    expect(description.length).toBeGreaterThan(2);
    // Every line but the last is filled to near the width (80): none is cut short mid-sentence.
    for (const line of description.slice(0, -1)) expect(line.length, line).toBeGreaterThan(60);
  });
});
