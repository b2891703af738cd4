// What the verb modules share: output, the config loader with the global flags, the wrapper that
// turns a failure into `error CODE: message` and its exit code, flag parsers, the served domains.
import type { Command } from 'commander';
import {
  CimError,
  ExitCode,
  loadConfig,
  servedDomains as loadServedDomains,
  toCimError,
  type ApplianceConfig,
  type FlatSettings,
} from '../appliance/index.js';
import { knownNames } from '../scenarios/index.js';

/** Progress and notes for the user (stderr). */
export function log(line: string): void {
  process.stderr.write(`cim: ${line}\n`);
}

/** The command's output (stdout), one newline at the end. */
export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

interface GlobalOptions {
  state?: string;
  config?: string;
  nats?: string;
  creds?: string;
  natsServer?: string;
}

/** Flags that set configuration, mapped onto the schema's dotted paths. */
export function configFrom(command: Command, extra: FlatSettings = {}): ApplianceConfig {
  const global = command.optsWithGlobals<GlobalOptions>();
  return loadConfig({
    file: global.config,
    flags: { stateDir: global.state, natsServer: global.natsServer, 'nats.urls': global.nats, 'nats.credsFile': global.creds, ...extra },
  });
}

export function positiveInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
      throw new CimError('CIM-INVALID-INPUT', `${name}: expected integer ≥ 1, got "${value}"`);
    }
    return n;
  };
}

/** Runs an action, turning any failure into `error CODE: message` and the code's exit status. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
      process.exitCode ??= ExitCode.ok;
    } catch (error) {
      const cim = toCimError(error);
      process.stderr.write(`cim: error ${cim.code}: ${cim.message}\n`);
      if (cim.hint) process.stderr.write(`cim: hint: ${cim.hint}\n`);
      if (cim.code === 'CIM-INTERNAL' && process.env.CIM_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
      process.exitCode = cim.exitCode;
    }
  };
}

/** The domains this configuration serves: the reference domains and the configured plugins'. */
export async function servedDomains(config: ApplianceConfig) {
  return loadServedDomains(config.domains.plugins);
}

/** The commands and projections a scenario may name: those of the served domains. */
export async function servedNames(command: Command) {
  return knownNames(await servedDomains(configFrom(command)));
}
