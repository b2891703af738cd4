// The domain services on NATS: command service, its client and protocol, query service and
// process manager — the public surface of appliance/services.
export { isUnanswered, originHeaders, sendCommand, type CommandResult, type RequestOrigin } from './command-client.js';
export { requestOrigin } from './request-origin.js';
export {
  commandSubject,
  CommandRequestSchema,
  CommandResultSchema,
  AppendedEventInfoSchema,
  type AppendedEventInfo,
  type CommandReply,
  type CommandRequest,
} from './command-protocol.js';
export {
  CommandHandler,
  startCommandService,
  type CommandObservation,
  type CommandServiceHandle,
  type CommandServiceOptions,
} from './command-service.js';
export { startProcessManager, type ProcessManagerHandle, type ProcessManagerOptions } from './process-manager.js';
export { querySubject, startQueryService } from './query-service.js';
