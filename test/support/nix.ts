// Real Nix evaluations of the flake and the NixOS module, on machines without nixpkgs: Debian's
// nix-bin evaluates, and nixpkgs' lib comes from ../shared/nix/nixpkgs-lib.tar.zst (see its
// README). CI installs nix-bin and must run these tests; elsewhere they are skipped when Nix is
// missing, saying how to get it.
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const NIXPKGS_LIB_TARBALL = join(REPO_ROOT, '..', 'shared', 'nix', 'nixpkgs-lib.tar.zst');

/** Options every call passes: no binary cache exists here, and waiting on one only costs time. */
export const NIX_OPTIONS = ['--option', 'substituters', ''];

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Why the Nix tests cannot run here, or undefined when they can. */
export function nixMissing(): string | undefined {
  if (!onPath('nix-instantiate') || !onPath('nix'))
    return 'nix-instantiate is not on PATH: install it with `sudo apt-get install -y nix-bin`';
  if (!onPath('zstd'))
    return 'zstd is not on PATH (it unpacks nixpkgs lib): install it with `sudo apt-get install -y zstd`';
  if (!onPath('jq'))
    return 'jq is not on PATH (the NATS unit writes its config with it): install it with `sudo apt-get install -y jq`';
  if (!onPath('openssl'))
    return 'openssl is not on PATH (it makes the TLS test files): install it with `sudo apt-get install -y openssl`';
  if (!existsSync(NIXPKGS_LIB_TARBALL))
    return `${NIXPKGS_LIB_TARBALL} is missing: the Nix tests need ../shared/nix beside the clone`;
  return undefined;
}

/**
 * `describe` for Nix tests. Without Nix they cannot run: on CI (CI set) that is one failing test
 * naming what is missing; on a developer's machine the tests are skipped with the reason.
 */
export function describeNix(name: string, body: () => void): void {
  const missing = nixMissing();
  if (!missing) {
    describe(name, body);
  } else if (process.env.CI) {
    describe(name, () => {
      it('has Nix and nixpkgs lib to evaluate with', () => {
        throw new Error(`${missing} (.ci/run installs nix-bin)`);
      });
    });
  } else {
    process.stderr.write(`skipping "${name}": ${missing}\n`);
    describe.skip(name, body);
  }
}

/** Unpacks nixpkgs' lib into dir; returns the path of `lib/` (and its flake at `..`). */
export function unpackNixpkgsLib(dir: string): string {
  execFileSync('tar', ['--zstd', '-xf', NIXPKGS_LIB_TARBALL, '-C', dir]);
  return join(dir, 'nixpkgs-lib', 'lib');
}

export interface NixResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How long one evaluation may take unless the caller says otherwise. A test's timeout must cover the runs inside it. */
export const NIX_TIMEOUT_MS = 120_000;

export function runNix(
  command: 'nix-instantiate' | 'nix',
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<NixResult> {
  const timeoutMs = options.timeoutMs ?? NIX_TIMEOUT_MS;
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd ?? REPO_ROOT,
        env: { ...process.env, ...options.env },
        timeout: timeoutMs,
        maxBuffer: 64 << 20,
      },
      (error, stdout, stderr) => {
        // A killed run is not Nix's answer: no exit code a test expects, and stderr says why.
        if (error?.killed)
          resolve({ code: -1, stdout, stderr: `${stderr}\n(test: ${command} was stopped after ${timeoutMs} ms)\n` });
        else resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/**
 * `nix-instantiate --eval --strict --json` of one attribute of a file ('' for all of it). The dummy store needs no
 * /nix and no root: these evaluations never build or copy anything.
 */
export async function nixEvalJson<T>(
  file: string,
  attr: string,
  args: Record<string, string>,
  argstrs: Record<string, string> = {},
): Promise<T> {
  const result = await runNix('nix-instantiate', nixEvalArgs(file, attr, args, argstrs));
  if (result.code !== 0) throw new Error(`nix-instantiate ${file} -A ${attr} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

export function nixEvalArgs(
  file: string,
  attr: string,
  args: Record<string, string>,
  argstrs: Record<string, string> = {},
): string[] {
  return [
    '--store',
    'dummy://',
    ...NIX_OPTIONS,
    '--eval',
    '--strict',
    '--json',
    file,
    ...(attr === '' ? [] : ['-A', attr]),
    ...Object.entries(args).flatMap(([k, v]) => ['--arg', k, v]),
    ...Object.entries(argstrs).flatMap(([k, v]) => ['--argstr', k, v]),
  ];
}
