// The one error family of the appliance: a stable code callers branch on, the CLI exit code it
// maps to, and a hint that tells the user what to do next.
import { escapeUnsafe } from './text.js';

/** Exit codes of every `cim` command (docs/architecture.md#exit-codes). */
export const ExitCode = {
  ok: 0,
  checkFailed: 1,
  usage: 2,
  unavailable: 3,
  /** Something the appliance did not expect: a bug to report, not the infrastructure's fault. */
  internal: 4,
  /** A gate had too little to compare (fewer repetitions than it needs) and was not told to allow it. */
  insufficientData: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const codes = {
  'CIM-INVALID-CONFIG': ExitCode.usage,
  'CIM-INVALID-INPUT': ExitCode.usage,
  'CIM-NATS-SERVER-MISSING': ExitCode.unavailable,
  'CIM-NATS-SERVER-TOO-OLD': ExitCode.unavailable,
  'CIM-CLUSTER-START': ExitCode.unavailable,
  'CIM-CLUSTER-NOT-RUNNING': ExitCode.unavailable,
  'CIM-UNAVAILABLE': ExitCode.unavailable,
  'CIM-NOT-FOUND': ExitCode.usage,
  'CIM-INTERRUPTED': ExitCode.unavailable,
  /** It needs root (or Linux): network partitions put nodes in network namespaces. */
  'CIM-NEEDS-ROOT': ExitCode.unavailable,
  /** A command that breaks a business rule in the aggregate's current state. */
  'CIM-REJECTED': ExitCode.checkFailed,
  /** A legal hold forbids it (an erasure of a held subject): nothing was changed. */
  'CIM-LEGAL-HOLD': ExitCode.checkFailed,
  /** Optimistic concurrency: the aggregate moved on since it was loaded. */
  'CIM-CONFLICT': ExitCode.checkFailed,
  /** A decoded event is not a valid envelope, or its CID does not recompute. */
  'CIM-INVALID-EVENT': ExitCode.checkFailed,
  /** A stream or bucket exists with a config the appliance would have to change to use it. */
  'CIM-STREAM-INCOMPATIBLE': ExitCode.usage,
  /** Verification found events, seals or chains that do not hold. */
  'CIM-VERIFY-FAILED': ExitCode.checkFailed,
  /** No credentials, or credentials that do not verify (HTTP gateway). */
  'CIM-UNAUTHENTICATED': ExitCode.usage,
  /** Credentials that verify but whose role may not do this. */
  'CIM-FORBIDDEN': ExitCode.usage,
  /** A request body over the size limit. */
  'CIM-TOO-LARGE': ExitCode.usage,
  /** A request body that is not JSON (wrong or missing content type). */
  'CIM-UNSUPPORTED-MEDIA-TYPE': ExitCode.usage,
  /** More requests than a key's rate limit allows (HTTP gateway); the reply says when to retry. */
  'CIM-RATE-LIMITED': ExitCode.unavailable,
  'CIM-INTERNAL': ExitCode.internal,
} as const satisfies Record<string, ExitCode>;

export type CimErrorCode = keyof typeof codes;

/** Every code, in declaration order (the HTTP API's schema lists them). */
export const CIM_ERROR_CODES = Object.keys(codes) as CimErrorCode[];

/** The HTTP status of each code (also the status of a NATS service error reply); 500 where none is listed. */
const httpStatuses: Partial<Record<CimErrorCode, number>> = {
  'CIM-INVALID-INPUT': 400,
  'CIM-INVALID-EVENT': 400,
  'CIM-UNAUTHENTICATED': 401,
  'CIM-FORBIDDEN': 403,
  'CIM-NOT-FOUND': 404,
  'CIM-CONFLICT': 409,
  'CIM-LEGAL-HOLD': 409,
  'CIM-TOO-LARGE': 413,
  'CIM-UNSUPPORTED-MEDIA-TYPE': 415,
  'CIM-REJECTED': 422,
  'CIM-RATE-LIMITED': 429,
  'CIM-UNAVAILABLE': 503,
  'CIM-INTERRUPTED': 503,
};

export function isCimErrorCode(code: string): code is CimErrorCode {
  return Object.hasOwn(codes, code);
}

export interface CimErrorOptions {
  /** What the user can do about it, printed on its own line. */
  hint?: string;
  cause?: unknown;
}

export class CimError extends Error {
  readonly code: CimErrorCode;
  readonly hint: string | undefined;

  constructor(code: CimErrorCode, message: string, options: CimErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CimError';
    this.code = code;
    this.hint = options.hint;
  }

  get exitCode(): ExitCode {
    return codes[this.code];
  }

  get httpStatus(): number {
    return httpStatuses[this.code] ?? 500;
  }
}

export function isCimError(error: unknown, code?: CimErrorCode): error is CimError {
  return error instanceof CimError && (code === undefined || error.code === code);
}

/** Wraps anything thrown into a CimError, keeping CimErrors as they are. */
/** NATS client error codes that say the infrastructure is not there (no responders, a timeout, no connection), not a bug. */
const NATS_UNAVAILABLE = new Set([
  '503',
  'TIMEOUT',
  'CONNECTION_REFUSED',
  'CONNECTION_CLOSED',
  'DISCONNECT',
  'CONNECTION_TIMEOUT',
]);

export function toCimError(error: unknown): CimError {
  if (error instanceof CimError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const natsCode =
    error instanceof Error && error.name === 'NatsError' ? (error as { code?: unknown }).code : undefined;
  if (typeof natsCode === 'string' && NATS_UNAVAILABLE.has(natsCode))
    return new CimError('CIM-UNAVAILABLE', `NATS: ${message}`, { cause: error });
  return new CimError('CIM-INTERNAL', message, { cause: error });
}

/**
 * The first problem zod found, as "path: message" (the root named by `root` when the problem is
 * the whole value): the one formatter every schema check of the code base reports with. A path
 * (a record's key) or a message (an unrecognized key) can carry input: unsafe characters in it
 * come out as escapes, so a reply or a log line never holds them.
 */
export function firstIssue(
  error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] },
  root = '(root)',
): string {
  const issue = error.issues[0];
  if (!issue) return `${root}: invalid`;
  return escapeUnsafe(`${issue.path.map(String).join('.') || root}: ${issue.message}`);
}
