// The errors `decide` throws to reject a command, each a CimError with a stable code so a NATS
// reply, an HTTP status and a CLI exit code follow from it (docs/architecture.md#error-codes).
import { CimError } from '../errors.js';

/** The command breaks a business rule in the aggregate's current state (e.g. already registered). */
export function rejected(message: string): CimError {
  return new CimError('CIM-REJECTED', message);
}

/** The command names something that does not exist (e.g. a member who is no registered person). */
export function notFound(message: string): CimError {
  return new CimError('CIM-NOT-FOUND', message);
}
