// `nats bench` (natscli, Go) as the peer of the component benchmarks: JetStream async publish on
// the same cluster, same message size, replicas and subjects, and a window comparable to the Node
// client's in-flight limit — the figure a NATS user already trusts. Its stream is removed after.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RetentionPolicy, StorageType, type NatsConnection } from 'nats';
import { CimError, createStream, DEFAULT_RETRY } from '../../appliance/index.js';

const run = promisify(execFile);

export interface NatsBenchOptions {
  /** The natscli binary. */
  natscli: string;
  natscliVersion: string;
  servers: readonly string[];
  credsFile?: string | undefined;
  /** An nkey user seed file (the embedded cluster's `operator`), when there is no creds file. */
  nkeySeedFile?: string | undefined;
  /** The inbox prefix that user's permissions allow replies on. */
  inboxPrefix?: string | undefined;
  messages: number;
  payloadBytes: number;
  subjects: number;
  /** natscli's `--batch`: async publishes awaiting their acks, as the Node client's in-flight limit. */
  window: number;
  replicas: number;
  /** Used to delete the benchmark's stream afterwards. */
  nc: NatsConnection;
}

export interface NatsBenchResult {
  tool: string;
  /** What was run, for the report: the flags, not the server URLs. */
  command: string;
  messages: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

const STREAM = 'CIM_BENCH_PEER';

export async function runNatsBench(options: NatsBenchOptions): Promise<NatsBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cim-nats-bench-'));
  const csv = join(dir, 'peer.csv');
  const flags = [
    'bench',
    'js',
    'pub',
    'async',
    'cim.bench.peer',
    `--msgs=${options.messages}`,
    `--size=${options.payloadBytes}B`,
    `--replicas=${options.replicas}`,
    '--storage=file',
    `--batch=${options.window}`,
    '--multisubject',
    `--multisubjectmax=${options.subjects}`,
    `--stream=${STREAM}`,
    '--clients=1',
    '--no-progress',
  ];
  // The stream is made here, the raw baseline's way: natscli's --create asks for a JetStream API
  // level that servers before 2.14 do not report (10185).
  const jsm = await options.nc.jetstreamManager();
  await jsm.streams.delete(STREAM).catch(() => false);
  await createStream(DEFAULT_RETRY, STREAM, () =>
    jsm.streams.add({
      name: STREAM,
      subjects: ['cim.bench.peer.>'],
      num_replicas: options.replicas,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
    }),
  );
  try {
    await run(
      options.natscli,
      [
        ...flags,
        `--csv=${csv}`,
        `--server=${options.servers.join(',')}`,
        ...(options.credsFile ? [`--creds=${options.credsFile}`] : []),
        ...(options.nkeySeedFile ? [`--nkey=${options.nkeySeedFile}`] : []),
        ...(options.inboxPrefix ? [`--inbox-prefix=${options.inboxPrefix}`] : []),
      ],
      {
        timeout: 300_000,
        maxBuffer: 16 * 1024 * 1024,
      },
    ).catch((error: { stderr?: string; message: string }) => {
      throw new CimError(
        'CIM-UNAVAILABLE',
        `nats bench failed: ${(error.stderr ?? '').trim().split('\n').pop() || error.message}`,
      );
    });
    return {
      tool: `natscli ${options.natscliVersion}`,
      command: `nats ${flags.join(' ')}`,
      messages: options.messages,
      ...parseCsv(readFileSync(csv, 'utf8')),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await jsm.streams.delete(STREAM).catch(() => {});
  }
}

/** natscli's CSV: a header row, then a row per client; one client here. */
export function parseCsv(text: string): Omit<NatsBenchResult, 'tool' | 'command' | 'messages'> {
  const [header, ...rows] = text
    .trim()
    .split('\n')
    .map((line) => line.replace(/^#/, '').split(','));
  const row = rows[0];
  if (!header || !row) throw new CimError('CIM-INTERNAL', 'nats bench wrote no figures');
  const field = (name: string) => {
    const value = Number(row[header.indexOf(name)]);
    if (!Number.isFinite(value)) throw new CimError('CIM-INTERNAL', `nats bench's CSV has no ${name}`);
    return value;
  };
  const seconds = field('DurationSecs');
  const perSecond = field('MsgsPerSec');
  // MsgCount counts publishes and their acks; natscli publishes exactly --msgs messages.
  return {
    seconds,
    perSecond,
    p50Ms: field('P50LatencyMicroSecs') / 1_000,
    p99Ms: field('P99LatencyMicroSecs') / 1_000,
  };
}
