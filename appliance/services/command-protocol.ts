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

/** One event a command appended, as its reply names it. */
export const AppendedEventInfoSchema = z.object({
  type: z.string(),
  cid: z.string().describe("the event's CID (dag-cbor, sha2-256)"),
  seq: z.number().int().min(1).describe("position in the aggregate's chain"),
  streamSeq: z.number().int().min(1).describe('sequence in the domain stream'),
});
export type AppendedEventInfo = z.infer<typeof AppendedEventInfoSchema>;

/** What an accepted command answers (over NATS inside `{ ok: true, ... }`, over HTTP as it is). */
export const CommandResultSchema = z.object({
  commandId: z.string(),
  aggregateId: z.string(),
  events: z.array(AppendedEventInfoSchema).describe('empty when the command changed nothing'),
});
export type CommandResult = z.infer<typeof CommandResultSchema>;

export type CommandReply =
  ({ ok: true } & CommandResult) | { ok: false; commandId?: string; error: { code: string; message: string } };

export function commandSubject(prefix: string, domain: string, command: string): string {
  return `${prefix}.${domain}.commands.${command}`;
}
