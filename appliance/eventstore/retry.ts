// Bounded retries with exponential backoff and jitter, for the requests an event store makes
// while a stream has no leader or the client is reconnecting: such failures pass in seconds.
import type { JetStreamManager, NatsError } from 'nats';
import { CimError } from '../errors.js';
import { sleep } from '../sleep.js';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** First backoff; doubles per attempt up to `maxBackoffMs`, with jitter. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Ack timeout of the first attempt; doubles per attempt up to `maxTimeoutMs`, since a slow ack is often a busy leader. */
  timeoutMs: number;
  maxTimeoutMs: number;
}

// "No responders" comes back at once while a stream elects a leader, which takes seconds on a busy
// machine: the backoffs (0.1 + 0.2 + … + 2 s ≈ 11 s) outlast an election.
export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 10,
  backoffMs: 100,
  maxBackoffMs: 2_000,
  timeoutMs: 2_000,
  maxTimeoutMs: 10_000,
};

/** Waits before attempt `attempt` (0-based); the first attempt does not wait. */
export function backoff(policy: RetryPolicy, attempt: number): Promise<unknown> | undefined {
  return attempt > 0
    ? sleep(Math.min(policy.backoffMs * 2 ** (attempt - 1), policy.maxBackoffMs) * (0.5 + Math.random()))
    : undefined;
}

export function attemptTimeout(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.timeoutMs * 2 ** attempt, policy.maxTimeoutMs);
}

/** JetStream's err_code for a failed `expect.lastSubjectSequence`. */
const WRONG_LAST_SEQUENCE = 10071;

/** A publish refused because the subject moved past the expected sequence: someone else appended. */
export function isWrongLastSequence(error: unknown): boolean {
  return (error as NatsError).api_error?.err_code === WRONG_LAST_SEQUENCE;
}

/**
 * JetStream's err_code (nats-server ≥ 2.11) for a publish whose Nats-Msg-Id another publish is
 * still proposing: that one may yet commit, so this is no answer yet; asked again, the server
 * says duplicate (then the stored CID tells whose) or wrong last sequence.
 */
const MSG_ID_IN_PROCESS = 10158;

/** nats-server 2.10 answers the same case with a plain "bad request" (10003). */
const BAD_REQUEST = 10003;

export function isMsgIdInProcess(error: unknown): boolean {
  const code = (error as NatsError).api_error?.err_code;
  return code === MSG_ID_IN_PROCESS || code === BAD_REQUEST;
}

/** "No suitable peers for placement": a cluster that has just formed, whose peers the meta leader does not yet count as current. */
const NO_PEERS_FOR_PLACEMENT = 10005;

/**
 * Creates a stream, asking again while the cluster cannot take it yet (503, or no peers for
 * placement right after it formed); an identical add of an existing stream is a no-op, so
 * asking again is safe.
 */
export async function createStream<T>(policy: RetryPolicy, name: string, add: () => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < policy.attempts; attempt++) {
    await backoff(policy, attempt);
    try {
      return await add();
    } catch (error) {
      if (!isTransient(error) && (error as NatsError).api_error?.err_code !== NO_PEERS_FOR_PLACEMENT) throw error;
      lastError = error;
    }
  }
  throw new CimError(
    'CIM-UNAVAILABLE',
    `creating stream ${name} failed after ${policy.attempts} attempts: ${(lastError as Error).message}`,
    {
      hint: 'The cluster has no JetStream meta leader or too few current peers; check `cim cluster status`.',
      cause: lastError,
    },
  );
}

/**
 * Waits until a stream just made has a leader. A replicated stream elects one a moment after it is
 * created; a publish before that finds no responders (NATS 503), which on a loaded machine broke a
 * run's raw baseline or its first commands. Transient failures of the info request are waited out.
 */
export async function waitForStreamLeader(jsm: JetStreamManager, name: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const info = await jsm.streams.info(name);
      if (!info.cluster || info.cluster.leader) return;
    } catch (error) {
      if (!isTransient(error)) throw error;
      lastError = error;
    }
    if (Date.now() >= deadline)
      throw new CimError('CIM-UNAVAILABLE', `stream ${name} has no leader ${timeoutMs / 1_000} s after it was made`, {
        hint: 'The cluster may have lost quorum or be overloaded; check `cim cluster status`.',
        ...(lastError ? { cause: lastError } : {}),
      });
    await sleep(100);
  }
}

/** No such stream, message or subject. */
export function isNotFound(error: unknown): boolean {
  return (error as NatsError).code === '404';
}

/** Failures after which the same request may well succeed: no answer in time, no stream leader, reconnecting. */
export function isTransient(error: unknown): boolean {
  const e = error as NatsError;
  if (e.api_error) return e.api_error.code === 503 || e.api_error.code === 504;
  return ['TIMEOUT', '503', 'DISCONNECT', 'CONNECTION_REFUSED', 'REQUEST_ERROR'].includes(e.code);
}

/**
 * Runs `request` until it succeeds, fails for good, or the attempts run out; transient failures
 * become CIM-UNAVAILABLE naming `what`. Non-transient errors are passed to `fatal`, which maps
 * them (it may also return a value that counts as the answer, e.g. "not found").
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  what: string,
  request: (timeoutMs: number) => Promise<T>,
  fatal: (error: unknown) => T = (error) => {
    throw error;
  },
): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < policy.attempts; attempt++) {
    await backoff(policy, attempt);
    try {
      return await request(attemptTimeout(policy, attempt));
    } catch (error) {
      if (!isTransient(error)) return fatal(error);
      lastError = error;
    }
  }
  throw new CimError(
    'CIM-UNAVAILABLE',
    `${what} failed after ${policy.attempts} attempts: ${(lastError as Error).message}`,
    {
      hint: 'The stream has no leader or the cluster is unreachable; check `cim cluster status`.',
      cause: lastError,
    },
  );
}
