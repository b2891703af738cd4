// The wire format of commands over NATS (docs/architecture.md#commands-and-queries): a JSON request on
// `<prefix>.<domain>.commands.<Command>`, and a JSON reply naming the new events' CIDs and
// sequences, or an error code. Kept apart from the code that serves and sends it.
import { z } from 'zod';
import { safeText } from '../decider/safe-text.js';

export const CommandRequestSchema = z.object({
  payload: z.unknown(),
  /** Who issues the command (audit); text by the rule of every name (`safeText`). */
  actor: safeText().min(1).max(200),
  /** Ties together everything one user action leads to; the command's id when absent. */
  correlationId: safeText().min(1).max(200).optional(),
  /** The message (e.g. an event a process manager reacted to) that led to this command; the command's id when absent. */
  causationId: safeText().min(1).max(200).optional(),
  /** The command's own id (UUIDv7 when absent); a process manager sets one derived from its trigger. */
  commandId: safeText().min(1).max(200).optional(),
});

export type CommandRequest = z.infer<typeof CommandRequestSchema>;

export interface AppendedEventInfo {
  type: string;
  cid: string;
  /** Position in the aggregate's chain. */
  seq: number;
  streamSeq: number;
}

export type CommandReply =
  | { ok: true; commandId: string; aggregateId: string; events: AppendedEventInfo[] }
  | { ok: false; commandId?: string; error: { code: string; message: string } };

export function commandSubject(prefix: string, domain: string, command: string): string {
  return `${prefix}.${domain}.commands.${command}`;
}
