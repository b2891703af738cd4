// The nats-server releases the appliance supports, and the cache they are built into from Go
// modules (`go install github.com/nats-io/nats-server/v2@vX.Y.Z`), so that every figure is for a
// server people run and names exactly which one. See docs/servers.md.
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { CimError } from '../errors.js';

const run = promisify(execFile);

export interface SupportedServer {
  version: string;
  /** Why this version is in the matrix. */
  role: string;
}

/** Newest first; the first is the default of the embedded cluster. */
export const SUPPORTED_SERVERS: readonly SupportedServer[] = [
  { version: '2.15.3', role: 'current release (the default)' },
  { version: '2.14.10', role: 'previous minor line, still supported upstream' },
  { version: '2.12.1', role: 'the version of the independent Jepsen analysis' },
  { version: '2.10.27', role: 'newest 2.10: first with sync_interval and filter_subjects' },
  { version: '2.9.10', role: "Debian bookworm's package: the floor" },
];

export const DEFAULT_SERVER_VERSION = SUPPORTED_SERVERS[0]!.version;

/** The natscli release whose `nats bench` is the peer benchmark. */
export const NATSCLI_VERSION = '0.5.0';

export const SERVER_MODULE = 'github.com/nats-io/nats-server/v2';
export const NATSCLI_MODULE = 'github.com/nats-io/natscli/nats';

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds an executable on PATH. */
export function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Resolves a version as a user writes it: `2.15.3`, the line `2.15` or `2.15.x`, or `default`.
 * Anything else is refused with the list of supported versions (exit 2).
 */
export function resolveServerVersion(spec: string): SupportedServer {
  const text = spec.trim().replace(/^v/, '');
  if (text === 'default' || text === 'latest') return SUPPORTED_SERVERS[0]!;
  const exact = SUPPORTED_SERVERS.find((s) => s.version === text);
  if (exact) return exact;
  const line = /^(\d+\.\d+)(\.x)?$/.exec(text);
  const inLine = line ? SUPPORTED_SERVERS.find((s) => s.version.startsWith(`${line[1]}.`)) : undefined;
  if (inLine) return inLine;
  throw new CimError(
    'CIM-INVALID-INPUT',
    `nats-server ${spec} is not a supported version; supported: ${SUPPORTED_SERVERS.map((s) => s.version).join(', ')}`,
    {
      hint: 'Name one of those (or its line, e.g. 2.14.x), or pass a path to a nats-server binary.',
    },
  );
}

/** `$XDG_CACHE_HOME/cim` (else `~/.cache/cim`): built servers and tools, shared by every state dir. */
export function cacheRoot(env: NodeJS.ProcessEnv): string {
  const base =
    env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(env.HOME ?? homedir(), '.cache');
  return join(base, 'cim');
}

export function cachedServerPath(version: string, env: NodeJS.ProcessEnv): string {
  return join(cacheRoot(env), 'nats-server', version, 'nats-server');
}

export function cachedNatscliPath(version: string, env: NodeJS.ProcessEnv): string {
  return join(cacheRoot(env), 'natscli', version, 'nats');
}

/**
 * The Go toolchain: `$GOROOT/bin/go` when GOROOT is set, else `go` on PATH, else the standard
 * install at /usr/local/go. Undefined when there is none.
 */
export function findGo(env: NodeJS.ProcessEnv): string | undefined {
  if (env.GOROOT) {
    const go = join(env.GOROOT, 'bin', 'go');
    return isExecutable(go) ? go : undefined;
  }
  return onPath('go', env) ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

/** The version a binary prints for `--version` (nats-server) or `--version` (natscli), or undefined. */
export async function printedVersion(path: string): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(path, ['--version'], { timeout: 10_000 });
    return /v?(\d+\.\d+\.\d+)/.exec(stdout + stderr)?.[1];
  } catch {
    return undefined;
  }
}

/** The Go version a binary was built with (`go version FILE`), when Go is at hand. */
export async function builtWithGo(path: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const go = findGo(env);
  if (!go) return undefined;
  try {
    const { stdout } = await run(go, ['version', path], { timeout: 10_000, env: goEnv(env) });
    return /\b(go\d+\.\d+(\.\d+)?)\b/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

function goEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...process.env, ...env };
}

export interface BuildProgress {
  (line: string): void;
}

/**
 * Builds `module@vVERSION` with `go install` into a fresh directory beside `target`, checks the
 * binary prints VERSION, and moves it into place: a cache entry is whole or absent.
 */
async function goInstall(
  module: string,
  version: string,
  target: string,
  env: NodeJS.ProcessEnv,
  progress: BuildProgress,
): Promise<void> {
  const go = findGo(env);
  if (!go) {
    throw new CimError(
      'CIM-NATS-SERVER-MISSING',
      `building ${module}@v${version} needs Go, which was not found (PATH, $GOROOT/bin, /usr/local/go/bin)`,
      {
        hint: "Install Go (https://go.dev/doc/install; on Debian `apt-get install golang` is too old for current servers), or use Debian's nats-server package.",
      },
    );
  }
  const dir = join(target, '..');
  mkdirSync(join(dir, '..'), { recursive: true });
  const staging = mkdtempSync(`${dir}.build-`);
  const started = Date.now();
  progress(`building ${module}@v${version} with ${go} (about a minute on 2 cores the first time)`);
  const ticker = setInterval(
    () => progress(`  still building ${module}@v${version}: ${Math.round((Date.now() - started) / 1000)} s`),
    15_000,
  );
  ticker.unref();
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(go, ['install', `${module}@v${version}`], {
        env: { ...goEnv(env), GOBIN: staging },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0
          ? resolve()
          : reject(new Error(text.trim().split('\n').slice(-3).join(' / ') || `go install exited ${code}`)),
      );
    });
    const built = join(staging, target.split('/').pop()!);
    const printed = await printedVersion(built);
    if (printed !== version)
      throw new Error(`the built binary says ${printed ?? 'nothing'} for --version, not ${version}`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    progress(`built ${module}@v${version} in ${Math.round((Date.now() - started) / 1000)} s: ${target}`);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw new CimError(
      'CIM-NATS-SERVER-MISSING',
      `go install ${module}@v${version} failed: ${(error as Error).message}`,
      {
        hint: 'The Go module proxy must be reachable (GOPROXY); run `cim servers install` again once it is.',
        cause: error,
      },
    );
  } finally {
    clearInterval(ticker);
  }
}

export interface InstallResult {
  version: string;
  path: string;
  /** false when the cache already held a good build. */
  built: boolean;
}

/**
 * Makes sure the cache holds a working build of a supported version: reused when it prints its
 * version, rebuilt when the entry is broken, built when absent.
 */
export async function installServer(
  version: string,
  env: NodeJS.ProcessEnv,
  progress: BuildProgress = () => {},
): Promise<InstallResult> {
  const supported = resolveServerVersion(version).version;
  return installInto(SERVER_MODULE, supported, cachedServerPath(supported, env), env, progress);
}

/** The same for natscli, whose `nats bench` is the peer benchmark. */
export async function installNatscli(
  env: NodeJS.ProcessEnv,
  progress: BuildProgress = () => {},
): Promise<InstallResult> {
  return installInto(NATSCLI_MODULE, NATSCLI_VERSION, cachedNatscliPath(NATSCLI_VERSION, env), env, progress);
}

async function installInto(
  module: string,
  version: string,
  path: string,
  env: NodeJS.ProcessEnv,
  progress: BuildProgress,
): Promise<InstallResult> {
  if (existsSync(path)) {
    if ((await printedVersion(path)) === version) return { version, path, built: false };
    progress(`the cached ${path} does not run as ${version}: building it again`);
  }
  await goInstall(module, version, path, env, progress);
  return { version, path, built: true };
}

export interface CachedServer {
  version: string;
  role: string;
  /** The cached build, when present and working. */
  path: string | undefined;
}

/** Each supported version and whether the cache holds a working build of it. */
export async function listServers(env: NodeJS.ProcessEnv): Promise<CachedServer[]> {
  return Promise.all(
    SUPPORTED_SERVERS.map(async (s) => {
      const path = cachedServerPath(s.version, env);
      const ok = existsSync(path) && (await printedVersion(path)) === s.version;
      return { ...s, path: ok ? path : undefined };
    }),
  );
}
