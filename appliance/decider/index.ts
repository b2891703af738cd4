// The decider framework: the public surface of appliance/decider — pure (neither nats nor
// better-sqlite3): what reference domains and users' domain plugins are written against.
export { defineDomain, Domain, type ValidatedCommand } from './define-domain.js';
export { notFound, rejected } from './errors.js';
export { own } from './own.js';
export { safeText, safeTextCheck } from './safe-text.js';
export { specFor, type Then, type WhenOptions } from './spec.js';
export {
  aggregateIdSchema,
  defineCommand,
  factKey,
  type Command,
  type CommandDefinition,
  type CommandDefinitions,
  type CommandOf,
  type EnvelopeOf,
  type EventOf,
  type EventSchemas,
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
export { loadDomainPlugins } from './plugins.js';
