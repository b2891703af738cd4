// Sending a command to a domain service and reading its reply: the client half of
// command-protocol.ts, used by the process manager, the load drivers and tests.
import type { NatsConnection } from 'nats';
import { CimError, isCimErrorCode } from '../errors.js';
import { Subjects } from '../eventstore/index.js';
import { commandSubject, type AppendedEventInfo, type CommandReply, type CommandRequest } from './command-protocol.js';

export interface CommandResult {
  commandId: string;
  aggregateId: string;
  events: AppendedEventInfo[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends a command and returns its events; a rejection or failure is thrown as its CimError. */
export async function sendCommand(
  nc: NatsConnection,
  domain: string,
  command: string,
  request: CommandRequest,
  options: { timeoutMs?: number; subjects?: Subjects } = {},
): Promise<CommandResult> {
  const subject = commandSubject((options.subjects ?? new Subjects()).prefix, domain, command);
  let data: Uint8Array;
  try {
    data = (await nc.request(subject, encoder.encode(JSON.stringify(request)), { timeout: options.timeoutMs ?? 10_000 })).data;
  } catch (error) {
    throw new CimError('CIM-UNAVAILABLE', `${domain} ${command}: no reply (${(error as Error).message})`, {
      hint: `Is the ${domain} service running (cim serve)? Its outcome is unknown if it timed out.`,
      cause: error,
    });
  }
  const reply = JSON.parse(decoder.decode(data)) as CommandReply;
  if (reply.ok) return { commandId: reply.commandId, aggregateId: reply.aggregateId, events: reply.events };
  throw new CimError(isCimErrorCode(reply.error.code) ? reply.error.code : 'CIM-INTERNAL', reply.error.message);
}
