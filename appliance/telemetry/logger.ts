// Structured logs of `cim serve` (pino): one JSON object per line on stderr with `level`, `time`,
// `msg` and, where known, `correlationId` and the active trace's `traceId`/`spanId`; or, for a
// person at a terminal, the same records as `cim: msg key=value` lines. Nothing of a payload is
// ever logged, and an error's message only when it cannot hold a user's input (errorFields).
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { CimError, CimErrorCode } from '../errors.js';
import { escapeUnsafe } from '../text.js';

export type LogFormat = 'json' | 'text';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What the appliance logs through: pino's logger, or anything with its four level methods. */
export type ApplianceLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

/** The ids of the active trace, if any; what an OpenTelemetry tracer provides. */
export type TraceContext = () => { traceId: string; spanId: string } | undefined;

export interface LoggerOptions {
  format: LogFormat;
  level?: LogLevel;
  /** Where lines go (default stderr, written synchronously so nothing is lost on exit). */
  destination?: NodeJS.WritableStream;
  /** Adds `traceId` and `spanId` of the active span to every record (see otelTraceContext). */
  traceContext?: TraceContext;
}

/** `auto`: JSON unless stderr is a terminal. */
export function resolveLogFormat(format: LogFormat | 'auto', stream: { isTTY?: boolean } = process.stderr): LogFormat {
  return format === 'auto' ? (stream.isTTY ? 'text' : 'json') : format;
}

export function createLogger(options: LoggerOptions): Logger {
  const traceContext = options.traceContext;
  const settings = {
    level: options.level ?? 'info',
    base: undefined, // no pid or hostname in every line: the journal has them
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    ...(traceContext ? { mixin: () => traceContext() ?? {} } : {}),
  };
  const out: { write(line: string): unknown } = options.destination ?? pino.destination({ fd: 2, sync: true });
  return pino(settings, options.format === 'json' ? out : textLines(out));
}

/** The JSON records as `cim: msg key=value ...`, the way the CLI's other verbs talk. */
function textLines(out: { write(line: string): unknown }): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const { msg, level, time, ...fields } = JSON.parse(chunk.toString()) as Record<string, unknown>;
      void time;
      const extras = Object.entries(fields).map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
      const prefix = level === 'error' || level === 'warn' ? `${String(level)}: ` : '';
      out.write(`cim: ${prefix}${escapeUnsafe(String(msg))}${escapeUnsafe(extras.join(''))}\n`);
      done();
    },
  });
}

/**
 * Codes whose messages are made from a request (aggregate ids, field values, names a client
 * chose): such a message may hold personal data, so a log gets the code alone.
 */
const INPUT_CODES = new Set<CimErrorCode>([
  'CIM-REJECTED',
  'CIM-INVALID-INPUT',
  'CIM-NOT-FOUND',
  'CIM-CONFLICT',
  'CIM-UNAUTHENTICATED',
  'CIM-FORBIDDEN',
  'CIM-TOO-LARGE',
  'CIM-UNSUPPORTED-MEDIA-TYPE',
]);

/** An error as log fields: its code, and its message (control and bidi characters escaped) only when no input is in it. */
export function errorFields(error: Pick<CimError, 'code' | 'message'>): { code: string; error?: string } {
  return INPUT_CODES.has(error.code) ? { code: error.code } : { code: error.code, error: escapeUnsafe(error.message) };
}

/** Whether a failure is the client's (logged at info) rather than the appliance's (logged as an error). */
export function isClientError(code: string): boolean {
  return INPUT_CODES.has(code as CimErrorCode);
}

/**
 * The active OpenTelemetry span's ids, when `@opentelemetry/api` is installed (it is optional
 * here: without it the logs carry no trace ids). Resolved once, at start.
 */
export async function otelTraceContext(): Promise<TraceContext | undefined> {
  const name = '@opentelemetry/api';
  try {
    const api = (await import(name)) as {
      trace: { getActiveSpan(): { spanContext(): { traceId: string; spanId: string } } | undefined };
    };
    return () => {
      const context = api.trace.getActiveSpan()?.spanContext();
      return context ? { traceId: context.traceId, spanId: context.spanId } : undefined;
    };
  } catch {
    return undefined;
  }
}
