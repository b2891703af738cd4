// Sending a command to a domain service and reading its reply: the client half of
// command-protocol.ts, used by the process manager, the load drivers and tests.
//
// Replies come to one inbox subscription per connection, matched by a token, rather than through
// `nc.request`: nats.js builds a throwaway error object for every request it completes (~7% of
// the client's CPU under load here), and a command client sends many.
import type { Context } from '@opentelemetry/api';
import { createInbox, headers as natsHeaders, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { CimError, isCimErrorCode } from '../errors.js';
import { Subjects } from '../eventstore/index.js';
import { endCommandSend, startCommandSend } from '../telemetry/tracing.js';
import { commandSubject, type CommandReply, type CommandRequest, type CommandResult } from './command-protocol.js';

export type { CommandResult };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Pending {
  resolve(data: Uint8Array): void;
  reject(error: CimError): void;
  timer: NodeJS.Timeout;
}

/** One inbox per connection; requests are told apart by the last token of the reply subject. */
class ReplyInbox {
  private readonly prefix: string;
  private readonly pending = new Map<string, Pending>();
  private readonly subscription: Subscription;
  private next = 0;

  constructor(private readonly nc: NatsConnection) {
    // The connection's own inbox prefix, where permissions allow replies only there.
    this.prefix = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    this.subscription = nc.subscribe(`${this.prefix}.*`, {
      callback: (error, msg) => {
        if (error) return;
        const token = msg.subject.slice(this.prefix.length + 1);
        const waiting = this.pending.get(token);
        if (!waiting) return; // answered after its timeout
        this.pending.delete(token);
        clearTimeout(waiting.timer);
        // The server's "no responders" status: an empty message with status 503.
        if (msg.data.length === 0 && msg.headers?.code === 503)
          waiting.reject(new CimError('CIM-UNAVAILABLE', 'no service answers this command'));
        else waiting.resolve(msg.data);
      },
    });
    void this.subscription.closed.then(() => {
      for (const [token, waiting] of this.pending) {
        this.pending.delete(token);
        clearTimeout(waiting.timer);
        waiting.reject(new CimError('CIM-UNAVAILABLE', 'the connection closed before the reply'));
      }
    });
  }

  get closed(): boolean {
    return this.subscription.isClosed();
  }

  request(subject: string, data: Uint8Array, timeoutMs: number, headers?: MsgHdrs): Promise<Uint8Array> {
    const token = (this.next++).toString(36);
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new CimError('CIM-UNAVAILABLE', `no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(token, { resolve, reject, timer });
      try {
        this.nc.publish(subject, data, { reply: `${this.prefix}.${token}`, headers });
      } catch (error) {
        this.pending.delete(token);
        clearTimeout(timer);
        reject(new CimError('CIM-UNAVAILABLE', (error as Error).message, { cause: error }));
      }
    });
  }
}

const inboxes = new WeakMap<NatsConnection, ReplyInbox>();

/** Errors of commands no service answered (no responders, no reply in time, connection closed). */
const unanswered = new WeakSet<CimError>();

/** Whether sendCommand failed because no service answered (rather than a service answering with an error). */
export function isUnanswered(error: unknown): boolean {
  return error instanceof CimError && unanswered.has(error);
}

/** Where a command comes from, when an HTTP gateway sends it: headers `Cim-Source: http` and `Cim-Role`. */
export interface RequestOrigin {
  source: 'http';
  role: string;
}

function inboxOf(nc: NatsConnection): ReplyInbox {
  let inbox = inboxes.get(nc);
  if (!inbox || inbox.closed) {
    inbox = new ReplyInbox(nc);
    inboxes.set(nc, inbox);
  }
  return inbox;
}

/**
 * Sends a command and returns its events; a rejection or failure is thrown as its CimError. When
 * tracing is on, the request is a `send` span whose context travels in the request's headers.
 */
export function sendCommand(
  nc: NatsConnection,
  domain: string,
  command: string,
  request: CommandRequest,
  options: {
    timeoutMs?: number;
    subjects?: Subjects;
    /** The span this command is sent from (default: the active context). */
    traceContext?: Context;
    /** Sent by the HTTP gateway for a key of this role (the audit log's source and role). */
    origin?: RequestOrigin;
  } = {},
): Promise<CommandResult> {
  const subject = commandSubject((options.subjects ?? new Subjects()).prefix, domain, command);
  const traced = startCommandSend(subject, domain, command, options.traceContext);
  const h = options.origin ? originHeaders(options.origin, traced?.headers) : traced?.headers;
  if (!traced) return send(nc, subject, domain, command, request, options.timeoutMs, h);
  return endCommandSend(traced.span, send(nc, subject, domain, command, request, options.timeoutMs, h));
}

/** The headers that name a request's origin, added to `h` (or new ones). */
export function originHeaders(origin: RequestOrigin, h: MsgHdrs = natsHeaders()): MsgHdrs {
  h.set('Cim-Source', origin.source);
  h.set('Cim-Role', origin.role);
  return h;
}

async function send(
  nc: NatsConnection,
  subject: string,
  domain: string,
  command: string,
  request: CommandRequest,
  timeoutMs = 10_000,
  headers?: MsgHdrs,
): Promise<CommandResult> {
  let data: Uint8Array;
  try {
    data = await inboxOf(nc).request(subject, encoder.encode(JSON.stringify(request)), timeoutMs, headers);
  } catch (error) {
    const cause = error as CimError;
    const failed = new CimError('CIM-UNAVAILABLE', `${domain} ${command}: ${cause.message}`, {
      hint: `Is the ${domain} service running (cim serve)? If the request timed out, its outcome is unknown.`,
      cause,
    });
    unanswered.add(failed);
    throw failed;
  }
  let reply: CommandReply;
  try {
    reply = JSON.parse(decoder.decode(data)) as CommandReply;
  } catch {
    throw new CimError('CIM-INTERNAL', `${domain} ${command}: the reply is not a command reply`);
  }
  if (reply.ok) return { commandId: reply.commandId, aggregateId: reply.aggregateId, events: reply.events };
  throw new CimError(isCimErrorCode(reply.error.code) ? reply.error.code : 'CIM-INTERNAL', reply.error.message);
}
