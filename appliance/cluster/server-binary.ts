// Finds the nats-server binary, checks its version, and asks it to validate a config file
// (`nats-server -t`) before anything is started with it.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { CimError } from '../errors.js';

const run = promisify(execFile);

/** Clustered JetStream before 2.9.4 loses stream leadership state on restarts we rely on. */
export const MIN_NATS_SERVER_VERSION = '2.9.4';

export const NATS_SERVER_INSTALL_HINT =
  'Install it with `sudo apt-get update && sudo apt-get install -y nats-server` (Debian/Ubuntu), ' +
  'use `nix develop`, or point NATS_SERVER_BIN at a nats-server ≥ ' + MIN_NATS_SERVER_VERSION + '.';

export interface NatsServerBinary {
  path: string;
  version: string;
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

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function locate(env: NodeJS.ProcessEnv): string {
  const explicit = env.NATS_SERVER_BIN;
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new CimError('CIM-NATS-SERVER-MISSING', `NATS_SERVER_BIN=${explicit} is not an executable file`, {
      hint: NATS_SERVER_INSTALL_HINT,
    });
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, 'nats-server');
    if (isExecutable(candidate)) return candidate;
  }
  throw new CimError('CIM-NATS-SERVER-MISSING', 'nats-server was not found on PATH', { hint: NATS_SERVER_INSTALL_HINT });
}

/** Finds nats-server (NATS_SERVER_BIN, else PATH) and checks it is recent enough. Exit 3 otherwise. */
export async function findNatsServer(env: NodeJS.ProcessEnv = process.env): Promise<NatsServerBinary> {
  const path = locate(env);
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
    throw new CimError('CIM-NATS-SERVER-MISSING', `${path} does not look like nats-server (--version printed "${output.trim()}")`, {
      hint: NATS_SERVER_INSTALL_HINT,
    });
  }
  const version = parsed.join('.');
  if (compareVersions(version, MIN_NATS_SERVER_VERSION) < 0) {
    throw new CimError('CIM-NATS-SERVER-TOO-OLD', `${path} is nats-server ${version}; the appliance needs ≥ ${MIN_NATS_SERVER_VERSION}`, {
      hint: NATS_SERVER_INSTALL_HINT,
    });
  }
  return { path, version };
}

/** Runs `nats-server -t -c FILE`; a config the server would refuse becomes CIM-INVALID-CONFIG. */
export async function validateServerConfigFile(binary: NatsServerBinary, file: string): Promise<void> {
  try {
    await run(binary.path, ['-t', '-c', file], { timeout: 10_000 });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    const reason = (stderr + stdout).trim().split('\n').filter(Boolean).pop() ?? (error as Error).message;
    throw new CimError('CIM-INVALID-CONFIG', `nats-server ${binary.version} rejects the generated config ${file}: ${reason}`, {
      hint: 'A setting the config names may need a newer nats-server (sync_interval needs ≥ 2.10).',
    });
  }
}
