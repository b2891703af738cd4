// The CLI at the edges of its input, as a careless or hostile user meets it: every bad input
// exits 2 with its own code and a one-line message (no stack trace, nothing written), a bad
// report is a failed check (exit 1), and nothing from a file reaches the terminal raw.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/temp-dir.js';

let work: ReturnType<typeof tempDir>;
beforeAll(() => {
  work = tempDir('cli-edges');
});
afterAll(() => work?.remove());

/** The scenario of the catalog's shape with `line` put in as given. */
const scenario = (extra: string) =>
  `name: edge\ndescription: an edge case\nphases:\n  - type: load\n    rate: 10\n${extra}`;

function expectInputError(result: { code: number; stderr: string }, code: string, text: string | RegExp): void {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stderr).toContain(`cim: error ${code}: `);
  expect(result.stderr).toMatch(text);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('bad input to cim', () => {
  it('given --state naming a file, exits 2: not a directory', async () => {
    const file = join(work.path, 'a-file');
    writeFileSync(file, 'x');
    expectInputError(
      await runCli(['--state', file, 'report', 'list']),
      'CIM-INVALID-INPUT',
      `the state dir ${file} is not a directory`,
    );
  });

  it('given a YAML alias bomb, refuses it as a scenario issue without expanding it', async () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g'].entries())
      levels.push(`${name}: &${name} [${Array(9).fill(`*${'abcdefg'[i]}`).join(',')}]`);
    const file = join(work.path, 'bomb.yaml');
    writeFileSync(file, levels.join('\n') + '\n');
    const result = await runCli(['scenario', 'validate', file]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).toContain(`${file}:1:1 (file): YAML: Excessive alias count`);
  });

  it('given a scenario file past the size limit, exits 2 before parsing it', async () => {
    const file = join(work.path, 'huge.yaml');
    writeFileSync(file, scenario(`    duration: 1s\n#${'x'.repeat(1024 * 1024)}\n`));
    expectInputError(
      await runCli(['scenario', 'validate', file]),
      'CIM-INVALID-INPUT',
      /huge\.yaml: \d+ bytes, more than the 1048576 a scenario file may have/,
    );
  });

  it('given a duration of 38 digits, names the field', async () => {
    const file = join(work.path, 'long.yaml');
    writeFileSync(file, scenario(`    duration: ${'9'.repeat(38)}s\n`));
    const result = await runCli(['scenario', 'validate', file]);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain('phases[0].duration: expected a duration such as');
    writeFileSync(file, scenario('    duration: 200h\n'));
    expect((await runCli(['scenario', 'validate', file])).stdout).toContain(
      'phases[0].duration: expected a duration of at most 168h',
    );
  });

  it('given control bytes and a bidi override in a scenario, shows them escaped', async () => {
    const file = join(work.path, 'ctl.yaml');
    writeFileSync(
      file,
      scenario('    duration: 1s\n    mix:\n      - { command: "person.Re\u001b[31mname\u202e", weight: 1 }\n'),
    );
    const result = await runCli(['scenario', 'validate', file]);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain('\\u001b[31m');
    expect(result.stdout).toContain('\\u202e');
    for (const raw of ['\u001b', '\u202e']) expect(result.stdout + result.stderr).not.toContain(raw);
  });

  it('given replay --to -5, or --out in a missing directory, a directory or an existing file, exits 2 and writes nothing', async () => {
    const state = join(work.path, 'replay-state');
    expectInputError(
      await runCli(['--state', state, 'replay', 'person_directory', '--to', '-5']),
      'CIM-INVALID-INPUT',
      '--to: expected a stream sequence ≥ 1 or an RFC 3339 time',
    );
    expectInputError(
      await runCli([
        '--state',
        state,
        'replay',
        'person_directory',
        '--out',
        join(work.path, 'no', 'such', 'x.sqlite'),
      ]),
      'CIM-INVALID-INPUT',
      'does not exist',
    );
    const dir = join(work.path, 'outdir');
    mkdirSync(dir);
    expectInputError(
      await runCli(['--state', state, 'replay', 'person_directory', '--out', dir]),
      'CIM-INVALID-INPUT',
      'is a directory',
    );
    const existing = join(work.path, 'existing.sqlite');
    writeFileSync(existing, 'keep me');
    expectInputError(
      await runCli(['--state', state, 'replay', 'person_directory', '--out', existing]),
      'CIM-INVALID-INPUT',
      'exists',
    );
    expect(readdirSync(work.path).filter((f) => f.includes('.replay-'))).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(state)).toBe(false);
  });

  it('given a truncated report file, report verify exits 1: a failed check, not bad usage', async () => {
    const state = join(work.path, 'report-state');
    const file = join(work.path, 'bafyreitruncated.cbor');
    writeFileSync(file, Buffer.from([0xa2, 0x61, 0x76, 0x01]));
    const result = await runCli(['--state', state, 'report', 'verify', file]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/bafyreitruncated\.cbor/);
  });
});
