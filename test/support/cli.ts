// Runs the built `cim` CLI the way a user does (node dist/cli/main.js), capturing its output
// and exit code. `npm test` builds dist/ first (pretest).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function ensureBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it for you)`);
}

/**
 * How long a CLI run may take unless the test says otherwise: enough for any command but a
 * benchmark (those pass their own). A test's timeout must cover the runs inside it.
 */
export const CLI_TIMEOUT_MS = 30_000;

export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  ensureBuilt();
  const timeoutMs = options.timeoutMs ?? CLI_TIMEOUT_MS;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, ...options.env }, cwd: options.cwd, timeout: timeoutMs },
      (error, stdout, stderr) => {
        if (error?.killed) {
          // Not the CLI's answer: no exit code a test expects, and stderr (shown on failure) says why.
          resolve({
            code: -1,
            stdout,
            stderr: `${stderr}\n(test: cim ${args.join(' ')} was stopped after ${timeoutMs} ms)\n`,
          });
          return;
        }
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** Starts the CLI in the background (for crash and Ctrl-C tests). */
export function spawnCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess {
  ensureBuilt();
  return spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
