// The decider framework: the public surface of appliance/domain — what reference domains and
// users' domain plugins are written against.
export { defineDomain, Domain, type ValidatedCommand } from './define-domain.js';
export { notFound, rejected } from './errors.js';
export { specFor, type Then, type WhenOptions } from './spec.js';
export {
  aggregateIdSchema,
  defineCommand,
  factKey,
  type Command,
  type CommandDefinition,
  type CommandMetadata,
  type DomainDefinition,
  type DomainEvent,
  type Facts,
  type ProcessCommand,
  type ProcessManagerDefinition,
  type ProjectionDefinition,
  type Requirement,
  type RowChange,
  type UpcasterDefinition,
} from './types.js';
export { sendCommand, type CommandResult } from './command-client.js';
export { commandSubject, CommandRequestSchema, type AppendedEventInfo, type CommandReply, type CommandRequest } from './command-protocol.js';
export { CommandHandler, startCommandService, type CommandServiceHandle, type CommandServiceOptions } from './command-service.js';
export { startProcessManager, type ProcessManagerHandle, type ProcessManagerOptions } from './process-manager.js';
export * from './projections/index.js';
export { querySubject, startQueryService } from './query-service.js';
export { loadDomainPlugins } from './plugins.js';
