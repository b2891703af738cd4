// What a command module outside cli.ts needs from the composition root to register its commands:
// the config loader with the global flags, the error-to-exit-code wrapper, and output.
import type { Command } from 'commander';
import type { ApplianceConfig, FlatSettings } from './config.js';

export interface CommandWiring {
  configFrom: (command: Command, extra?: FlatSettings) => ApplianceConfig;
  action: <A extends unknown[]>(fn: (...args: A) => Promise<void>) => (...args: A) => Promise<void>;
  print: (text: string) => void;
  /** Progress and notes for the user (stderr). */
  log: (line: string) => void;
}
