// Finds the nats-server binary a run uses (a pinned build, a path, or the system's), checks its
// version, and asks it to validate a config file (`nats-server -t`) before anything is started with it.
import { execFile } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { promisify } from 'node:util';
import { CimError } from '../errors.js';
import {
  builtWithGo,
  cachedServerPath,
  DEFAULT_SERVER_VERSION,
  findGo,
  installServer,
  isExecutable,
  onPath,
  printedVersion,
  resolveServerVersion,
  SUPPORTED_SERVERS,
} from './server-versions.js';

const run = promisify(execFile);

/** Clustered JetStream before 2.9.4 loses stream leadership state on restarts we rely on. */
export const MIN_NATS_SERVER_VERSION = '2.9.4';

export const NATS_SERVER_INSTALL_HINT =
  `With Go present, \`cim servers install\` builds nats-server ${DEFAULT_SERVER_VERSION} into the cache; otherwise install ` +
  "Debian's package with `sudo apt-get update && sudo apt-get install -y nats-server`, use `nix develop`, " +
  'or point NATS_SERVER_BIN (or --nats-server PATH) at a nats-server ≥ ' +
  MIN_NATS_SERVER_VERSION +
  '.';

/** Where the binary of a run came from, as every report records it. */
export type ServerSource = 'pinned build' | 'Debian package' | 'PATH' | 'NATS_SERVER_BIN' | 'path given';

export interface NatsServerBinary {
  path: string;
  version: string;
  source: ServerSource;
  /** The Go version it was built with, when Go can tell. */
  goVersion?: string;
  /** Set when the server is older than the lines upstream supports: every output says so. */
  oldServerNote?: string;
}

export function parseVersion(text: string): [number, number, number] | undefined {
  const match = /v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

export function compareVersions(a: string, b: string): number {
  const [pa, pb] = [parseVersion(a), parseVersion(b)];
  if (!pa || !pb) throw new CimError('CIM-INTERNAL', `cannot compare versions "${a}" and "${b}"`);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}

/** The oldest minor line upstream still supports: the previous one before the default's. */
const OLDEST_SUPPORTED_LINE = SUPPORTED_SERVERS.find(
  (s) => !s.version.startsWith(DEFAULT_SERVER_VERSION.split('.').slice(0, 2).join('.') + '.'),
)!
  .version.split('.')
  .slice(0, 2)
  .concat('0')
  .join('.');

export function oldServerNote(version: string): string | undefined {
  if (compareVersions(version, OLDEST_SUPPORTED_LINE) >= 0) return undefined;
  return `nats-server ${version} is older than the releases upstream supports (${OLDEST_SUPPORTED_LINE.replace(/\.0$/, '')} and newer): these results are for an old server`;
}

/** Is this binary the one Debian's nats-server package installed? */
function isDebianPackage(path: string): boolean {
  try {
    return readFileSync('/var/lib/dpkg/info/nats-server.list', 'utf8').split('\n').includes(realpathSync(path));
  } catch {
    return false;
  }
}

export interface FindOptions {
  /** `--nats-server` / CIM_NATS_SERVER: a supported version (built on demand) or a path. */
  choice?: string | undefined;
  /** Build the default version when the cache lacks it and Go is present (default true). */
  build?: boolean;
  log?: (line: string) => void;
}

async function inspect(path: string, source: ServerSource, env: NodeJS.ProcessEnv): Promise<NatsServerBinary> {
  let output: string;
  try {
    const { stdout, stderr } = await run(path, ['--version'], { timeout: 10_000 });
    output = stdout + stderr;
  } catch (error) {
    throw new CimError('CIM-NATS-SERVER-MISSING', `${path} --version failed: ${(error as Error).message}`, {
      hint: NATS_SERVER_INSTALL_HINT,
      cause: error,
    });
  }
  const parsed = parseVersion(output);
  if (!parsed) {
    throw new CimError(
      'CIM-NATS-SERVER-MISSING',
      `${path} does not look like nats-server (--version printed "${output.trim()}")`,
      {
        hint: NATS_SERVER_INSTALL_HINT,
      },
    );
  }
  const version = parsed.join('.');
  if (compareVersions(version, MIN_NATS_SERVER_VERSION) < 0) {
    throw new CimError(
      'CIM-NATS-SERVER-TOO-OLD',
      `${path} is nats-server ${version}; the appliance needs ≥ ${MIN_NATS_SERVER_VERSION}`,
      {
        hint: NATS_SERVER_INSTALL_HINT,
      },
    );
  }
  const goVersion = await builtWithGo(path, env);
  const note = oldServerNote(version);
  return {
    path,
    version,
    source: source === 'PATH' && isDebianPackage(path) ? 'Debian package' : source,
    ...(goVersion ? { goVersion } : {}),
    ...(note ? { oldServerNote: note } : {}),
  };
}

function requireExecutable(path: string, what: string): string {
  if (isExecutable(path)) return path;
  throw new CimError('CIM-NATS-SERVER-MISSING', `${what}=${path} is not an executable file`, {
    hint: NATS_SERVER_INSTALL_HINT,
  });
}

/**
 * Finds the nats-server of the embedded cluster, in this order (docs/servers.md): the version or
 * path chosen with --nats-server / CIM_NATS_SERVER; NATS_SERVER_BIN; the default pinned release
 * from the cache, built with Go when missing; nats-server on PATH (an old server is said so).
 * Exit 3 when there is none, or it is older than the floor.
 */
export async function findNatsServer(
  env: NodeJS.ProcessEnv = process.env,
  options: FindOptions = {},
): Promise<NatsServerBinary> {
  const log = options.log ?? (() => {});
  const choice = options.choice?.trim();
  if (choice) {
    if (choice.includes('/')) return inspect(requireExecutable(choice, '--nats-server'), 'path given', env);
    const supported = resolveServerVersion(choice);
    const system = onPath('nats-server', env);
    // The floor is the system's own package where it has that version.
    if (supported === SUPPORTED_SERVERS.at(-1) && system && (await printedVersion(system)) === supported.version)
      return inspect(system, 'PATH', env);
    const installed = await installServer(supported.version, env, log);
    return inspect(installed.path, 'pinned build', env);
  }
  if (env.NATS_SERVER_BIN)
    return inspect(requireExecutable(env.NATS_SERVER_BIN, 'NATS_SERVER_BIN'), 'NATS_SERVER_BIN', env);
  const cached = cachedServerPath(DEFAULT_SERVER_VERSION, env);
  if ((await printedVersion(cached)) === DEFAULT_SERVER_VERSION) return inspect(cached, 'pinned build', env);
  if (options.build !== false && findGo(env)) {
    const installed = await installServer(DEFAULT_SERVER_VERSION, env, log);
    return inspect(installed.path, 'pinned build', env);
  }
  const system = onPath('nats-server', env);
  if (!system)
    throw new CimError('CIM-NATS-SERVER-MISSING', 'nats-server was not found on PATH, and no Go to build one', {
      hint: NATS_SERVER_INSTALL_HINT,
    });
  const binary = await inspect(system, 'PATH', env);
  if (binary.oldServerNote)
    log(`${binary.oldServerNote} (no Go to build ${DEFAULT_SERVER_VERSION}; see \`cim servers list\`)`);
  return binary;
}

/** Runs `nats-server -t -c FILE`; a config the server would refuse becomes CIM-INVALID-CONFIG. */
export async function validateServerConfigFile(binary: NatsServerBinary, file: string): Promise<void> {
  try {
    await run(binary.path, ['-t', '-c', file], { timeout: 10_000 });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    const reason = (stderr + stdout).trim().split('\n').filter(Boolean).pop() ?? (error as Error).message;
    throw new CimError(
      'CIM-INVALID-CONFIG',
      `nats-server ${binary.version} rejects the generated config ${file}: ${reason}`,
      {
        hint: 'A setting the config names may need a newer nats-server (sync_interval needs ≥ 2.10).',
      },
    );
  }
}
