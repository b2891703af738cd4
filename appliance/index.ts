// The appliance runtime: the public surface other top-level folders import from.
export * from './cluster/index.js';
export * from './eventstore/index.js';
export * from './integrity/index.js';
export * from './audit/index.js';
export {
  ApplianceConfigSchema,
  configLeaves,
  durationMs,
  envVarName,
  loadConfig,
  type ApplianceConfig,
  type ConfigSources,
  type RetentionPolicy,
  type FlatSettings,
} from './config.js';
export { CimError, ExitCode, firstIssue, isCimError, isCimErrorCode, toCimError, type CimErrorCode } from './errors.js';
export { installSignalHandlers, onShutdown } from './shutdown.js';
export { sleep } from './sleep.js';
export { printable } from './text.js';
export * from './decider/index.js';
export * from './services/index.js';
export * from './projections/index.js';
export * from './domains/index.js';
export { startAppliance, type ApplianceHandle, type ApplianceOptions, type HttpOptions } from './serve.js';
export * from './api/index.js';
export * from './telemetry/index.js';
export * from './privacy/index.js';
export * from './retention/index.js';
