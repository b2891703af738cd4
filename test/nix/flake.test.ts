// The flake, evaluated for real with its nixpkgs input overridden by nixpkgs' lib: what needs only
// lib (nixosModules, the output layout, the lockfile's registry URLs) is checked here; what needs
// pkgs (building the package, the VM test) needs a machine with nixpkgs.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeNix,
  NIX_OPTIONS,
  NIX_TIMEOUT_MS,
  nixEvalJson,
  REPO_ROOT,
  runNix,
  unpackNixpkgsLib,
} from '../support/nix.js';
import { tempDir } from '../support/temp-dir.js';

describeNix('the flake, with nixpkgs overridden by nixpkgs lib', () => {
  // Made in beforeAll, not while collecting: a skipped file leaves nothing behind.
  let dir: ReturnType<typeof tempDir>;
  let libPath: string;
  let flake: string;
  let nixEnv: NodeJS.ProcessEnv;

  /** `nix eval` of an output of the copied flake, in a store of its own under the temp dir. */
  const evalFlake = async (output: string, apply: string): Promise<unknown> => {
    const result = await runNix(
      'nix',
      [
        'eval',
        '--json',
        '--impure',
        '--no-write-lock-file',
        '--extra-experimental-features',
        'nix-command flakes',
        '--store',
        join(dir.path, 'store'),
        ...NIX_OPTIONS,
        '--override-input',
        'nixpkgs',
        `path:${dirname(libPath)}`,
        `path:${flake}#${output}`,
        '--apply',
        apply,
      ],
      { env: nixEnv },
    );
    if (result.code !== 0) throw new Error(`nix eval .#${output} failed:\n${result.stderr}`);
    return JSON.parse(result.stdout);
  };

  beforeAll(() => {
    dir = tempDir('nix-flake');
    libPath = unpackNixpkgsLib(dir.path);
    nixEnv = { XDG_CACHE_HOME: join(dir.path, 'cache'), HOME: dir.path };
    // A flake in a git checkout sees only what git knows: copy what `git add -A` would hold.
    flake = join(dir.path, 'flake');
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    })
      .split('\0')
      .filter((f) => f !== '');
    for (const file of files) {
      try {
        mkdirSync(dirname(join(flake, file)), { recursive: true });
        cpSync(join(REPO_ROOT, file), join(flake, file));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // deleted, not yet staged
      }
    }
  });
  afterAll(() => dir?.remove());

  it(
    'nixosModules.default is a module that configures the same as modules/appliance.nix',
    async () => {
      expect(await evalFlake('nixosModules', 'ms: builtins.mapAttrs (_: builtins.isFunction) ms')).toEqual({
        default: true,
      });
      const evalModule = join(REPO_ROOT, 'test', 'nix', 'eval-module.nix');
      const viaFlake = await evalFlake(
        'nixosModules.default',
        `m: (import ${evalModule} { libPath = ${libPath}; appliance = m; }).checks`,
      );
      const viaFile = await nixEvalJson(evalModule, 'checks', { libPath });
      expect(viaFlake).toEqual(viaFile);
    },
    3 * NIX_TIMEOUT_MS + 10_000,
  ); // three evaluations

  it(
    'offers packages, apps bench and default, a dev shell and checks for x86_64 and aarch64 Linux',
    async () => {
      const names = 'o: builtins.mapAttrs (_: builtins.attrNames) o';
      const systems = ['aarch64-linux', 'x86_64-linux'];
      expect(await evalFlake('packages', names)).toEqual(Object.fromEntries(systems.map((s) => [s, ['default']])));
      expect(await evalFlake('apps', names)).toEqual(Object.fromEntries(systems.map((s) => [s, ['bench', 'default']])));
      expect(await evalFlake('devShells', names)).toEqual(Object.fromEntries(systems.map((s) => [s, ['default']])));
      expect(await evalFlake('checks', names)).toEqual(
        Object.fromEntries(systems.map((s) => [s, ['cluster', 'package']])),
      );
    },
    4 * NIX_TIMEOUT_MS + 10_000,
  ); // four evaluations

  it(
    "builds with Node 22 (nixpkgs marks Node 20 insecure), nats-server on cim's PATH, better-sqlite3 from source, and every lockfile package fetched by URL and integrity",
    async () => {
      const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
        packages: Record<
          string,
          { name?: string; version?: string; resolved?: string; integrity?: string; link?: boolean }
        >;
      };
      const evaluated = await nixEvalJson<{
        nodejs: string;
        npmConfigHook: string;
        makeWrapperArgs: string[];
        env: Record<string, string>;
        npmPackFlags: string[];
        version: string;
        resolved: Record<string, string | null>;
      }>(join(REPO_ROOT, 'test', 'nix', 'eval-package.nix'), '', {
        libPath,
        packageFile: join(flake, 'nix', 'package.nix'),
      });
      expect(evaluated.nodejs).toMatch(/^nodejs-22\./);
      expect(evaluated.npmConfigHook).toBe(`npm-config-hook for ${evaluated.nodejs}`);
      expect(evaluated.makeWrapperArgs).toEqual([
        '--prefix',
        'PATH',
        ':',
        expect.stringMatching(/-nats-server-[\d.]+\/bin$/),
        '--set-default',
        'NATS_SERVER_BIN',
        expect.stringMatching(/-nats-server-[\d.]+\/bin\/nats-server$/),
      ]);
      expect(evaluated.env).toEqual({ npm_config_build_from_source: 'true' });
      expect(evaluated.version).toBe(
        (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version,
      );
      for (const [path, entry] of Object.entries(lock.packages)) {
        if (path === '' || entry.link) continue;
        const name = entry.name ?? path.split('node_modules/').pop()!;
        const expected =
          entry.resolved ?? `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${entry.version}.tgz`;
        expect(entry.integrity, path).toMatch(/^sha512-/);
        expect(evaluated.resolved[path], path).toBe(expected);
      }
    },
    NIX_TIMEOUT_MS + 10_000,
  );
});
