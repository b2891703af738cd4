// The `http` driver's operation: the command mix's next command POSTed to the HTTP gateway, recorded
// exactly as the NATS driver records its command (issuers.ts): the outcome, the CIDs of the events
// the reply promised, the error code, and the latency from when the operation was due. Plain
// node:http on a keep-alive agent whose sockets are bounded by the phase's concurrency: every
// request's reply body is read (the checker needs what it acknowledged), which a closed-loop load
// tool with its own histogram (autocannon, used by the component benchmark) does not hand back.
import { Agent, request } from 'node:http';
import type { CommandMix } from './command-mix.js';
import { mixIssuer, NOT_APPLIED, type SendOutcome } from './issuers.js';
import type { PhaseRecorder } from './recorder.js';
import type { Issue } from './schedule.js';

/** A keep-alive HTTP/1.1 client of one gateway, with at most `connections` sockets. */
export interface GatewayClient {
  /** POSTs `/v1/commands/<domain>/<command>`; resolves with the status and parsed JSON body. */
  command(
    domain: string,
    command: string,
    payload: unknown,
    headers: Record<string, string>,
  ): Promise<{ status: number; body: unknown }>;
  close(): void;
}

export interface GatewayClientOptions {
  /** The gateway's base URL, `http://127.0.0.1:PORT`. */
  url: string;
  /** The bearer token sent with every request. */
  token: string;
  /** Most sockets open at once (the phase's concurrency). */
  connections: number;
  timeoutMs?: number;
}

/** A transport failure: no HTTP answer (refused, reset, timed out). */
export class GatewayTransportError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function gatewayClient(options: GatewayClientOptions): GatewayClient {
  const base = new URL(options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections });
  const timeoutMs = options.timeoutMs ?? 15_000;
  const authorization = `Bearer ${options.token}`;
  return {
    command: (domain, command, payload, headers) =>
      new Promise((resolve, reject) => {
        const body = Buffer.from(JSON.stringify(payload));
        const req = request(
          {
            agent,
            host: base.hostname,
            port: base.port,
            method: 'POST',
            path: `/v1/commands/${encodeURIComponent(domain)}/${encodeURIComponent(command)}`,
            headers: {
              ...headers,
              authorization,
              'content-type': 'application/json',
              'content-length': body.length,
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('error', (error) => reject(new GatewayTransportError('HTTP-RESET', error.message)));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let parsed: unknown;
              try {
                parsed = text ? JSON.parse(text) : undefined;
              } catch {
                parsed = undefined;
              }
              resolve({ status: res.statusCode ?? 0, body: parsed });
            });
          },
        );
        req.setTimeout(timeoutMs, () =>
          req.destroy(new GatewayTransportError('HTTP-TIMEOUT', `no answer in ${timeoutMs} ms`)),
        );
        req.on('error', (error: Error & { code?: string }) =>
          reject(
            error instanceof GatewayTransportError
              ? error
              : new GatewayTransportError(error.code === 'ECONNREFUSED' ? 'HTTP-REFUSED' : 'HTTP-RESET', error.message),
          ),
        );
        req.end(body);
      }),
    close: () => agent.destroy(),
  };
}

export interface HttpLoadOptions {
  client: GatewayClient;
  mix: CommandMix;
  recorder: PhaseRecorder;
  clock: () => number;
  /** The run's correlation id (`X-Correlation-Id`); the actor is the API key's. */
  correlationId: string;
  /** Unique per operation within the run, sent as `Idempotency-Key` (the command id). */
  commandId: (index: number) => string;
}

interface ReplyBody {
  commandId?: unknown;
  events?: { cid?: unknown }[];
  code?: unknown;
}

/** An Issue that POSTs the mix's next command to the gateway and records its reply. */
export function httpIssuer(options: HttpLoadOptions): Issue {
  return mixIssuer(options, async (command, id) => {
    try {
      const { status, body } = await options.client.command(command.domain, command.command, command.payload, {
        'x-correlation-id': options.correlationId,
        'idempotency-key': id,
      });
      return judge(status, body as ReplyBody | undefined, id);
    } catch (error) {
      // No HTTP answer: a refused connection reached no one; anything else may have been applied.
      const code = error instanceof GatewayTransportError ? error.code : 'HTTP-ERROR';
      return { outcome: code === 'HTTP-REFUSED' ? 'failed' : 'unknown', acked: [], errorCode: code };
    }
  });
}

/**
 * What one gateway answer means for the checker: a 200 naming this command id and its events is an
 * acknowledgement; an error body's CIM code is recorded like the NATS driver's (refused or unknown
 * by the same codes); a 429 was refused before anything was sent on; an answer without a code is
 * `HTTP-<status>`, outcome unknown.
 */
export function judge(status: number, body: ReplyBody | undefined, commandId: string): SendOutcome {
  if (status === 200 && body && Array.isArray(body.events)) {
    const cids = body.events.map((e) => e.cid);
    if (body.commandId === commandId && cids.every((c): c is string => typeof c === 'string'))
      return { outcome: 'ok', acked: cids };
    return { outcome: 'unknown', acked: [], errorCode: 'HTTP-BAD-REPLY' };
  }
  const code = body && typeof body.code === 'string' && body.code.startsWith('CIM-') ? body.code : `HTTP-${status}`;
  const refused = NOT_APPLIED.has(code) || status === 429 || (status >= 400 && status < 500 && status !== 408);
  return { outcome: refused ? 'failed' : 'unknown', acked: [], errorCode: code };
}
