// Recovery from a fault, measured on the delivered rate (docs/architecture.md#recovery): from the
// fault firing until the rate of acknowledgements is back within 10 % of the offered rate and
// stays there for 2 s; and the longest time without any acknowledgement after the fault. A pure
// function of the acknowledgement times, so it is tested on synthetic timelines.

/** The shape of the measurement: the rate is taken over a sliding window, every bucket. */
export const RECOVERY = {
  /** The rate is evaluated every this many ms. */
  bucketMs: 100,
  /** …over the acknowledgements of the last this many ms. */
  windowMs: 1_000,
  /** Within this share of the reference rate counts as recovered. */
  band: 0.1,
  /** …and must stay so for this long. */
  holdMs: 2_000,
} as const;

export interface RecoveryInput {
  firedAtMs: number;
  /** When each operation of the load running at the fault was acknowledged, ms since the scenario started. */
  acks: readonly number[];
  /** The offered rate (ops/s): the fixed rates of those load phases summed; undefined when one runs at `max`. */
  offeredPerSec: number | undefined;
  /** When that load began and ended. */
  loadStartMs: number;
  loadEndMs: number;
}

export interface Recovery {
  /** The rate recovery is measured against, ops/s; undefined when there was none to take. */
  referencePerSec: number | undefined;
  /** `offered`: the phases' fixed rate; `before-fault`: `rate: max`, the median rate of the whole seconds before the fault. */
  reference: 'offered' | 'before-fault';
  /** The rate came back within the band for holdMs before the load ended. */
  recovered: boolean;
  /** Fault firing → the start of the first holdMs the rate stayed within the band; only when recovered. */
  recoveryMs?: number;
  /** False when the rate never left the band (recovery 0: "no dip"). */
  dip: boolean;
  /** The longest time without an acknowledgement from the fault firing until the load ended, ms. */
  stallMs: number;
  /** Why recovery could not be measured (no reference rate), when it could not. */
  note?: string;
}

/** The first index of `sorted` whose value is greater than `x`. */
function upperBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function measureRecovery(input: RecoveryInput): Recovery {
  const { firedAtMs, loadStartMs, loadEndMs } = input;
  const acks = [...input.acks].sort((a, b) => a - b);
  const { bucketMs, windowMs, band, holdMs } = RECOVERY;
  /** Acknowledgements per second over (t − window, t]. */
  const rateAt = (t: number) => ((upperBound(acks, t) - upperBound(acks, t - windowMs)) * 1_000) / windowMs;

  let previous = firedAtMs;
  let stallMs = 0;
  for (let i = upperBound(acks, firedAtMs - 1e-9); i < acks.length; i++) {
    stallMs = Math.max(stallMs, acks[i]! - previous);
    previous = acks[i]!;
  }
  stallMs = Math.max(stallMs, loadEndMs - previous);

  const reference = input.offeredPerSec === undefined ? 'before-fault' : 'offered';
  let referencePerSec = input.offeredPerSec;
  if (referencePerSec === undefined) {
    const seconds: number[] = [];
    for (let t = loadStartMs + windowMs; t <= firedAtMs; t += windowMs) seconds.push(rateAt(t));
    if (seconds.length > 0) referencePerSec = median(seconds);
  }
  if (referencePerSec === undefined || referencePerSec <= 0)
    return {
      referencePerSec: undefined,
      reference,
      recovered: false,
      dip: true,
      stallMs,
      note:
        reference === 'before-fault'
          ? 'no whole second of load before the fault to take the reference rate from'
          : 'no offered rate',
    };
  // A closed loop (`rate: max`) has no backlog to catch up on: only a rate below the reference is a dip.
  const inBand = (rate: number) =>
    rate >= referencePerSec * (1 - band) && (reference === 'before-fault' || rate <= referencePerSec * (1 + band));
  // The first window counted lies wholly inside the load.
  const start = Math.max(firedAtMs, loadStartMs + windowMs);
  const points: number[] = [];
  for (let t = start; t <= loadEndMs + 1e-9; t += bucketMs) points.push(t);
  const steps = Math.round(holdMs / bucketMs);
  let run = 0;
  // Walk back from the end: run = how many consecutive points from here on are in the band.
  const held: boolean[] = new Array<boolean>(points.length).fill(false);
  for (let i = points.length - 1; i >= 0; i--) {
    run = inBand(rateAt(points[i]!)) ? run + 1 : 0;
    held[i] = run > steps;
  }
  const first = held.indexOf(true);
  if (first < 0) return { referencePerSec, reference, recovered: false, dip: true, stallMs };
  if (first === 0) return { referencePerSec, reference, recovered: true, recoveryMs: 0, dip: false, stallMs };
  return { referencePerSec, reference, recovered: true, recoveryMs: points[first]! - firedAtMs, dip: true, stallMs };
}
