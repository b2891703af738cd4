// Server-side figures during a run: each node's /varz (CPU, memory, messages in and out) and
// /jsz (JetStream messages and bytes), sampled about once a second. A node that is down or paused
// gives no sample for that second, which is itself what a fault timeline should show.
import type { MonitorClient } from '../appliance/index.js';

export interface ServerSample {
  /** Seconds since the scenario started. */
  t: number;
  node: string;
  up: boolean;
  cpuPercent?: number;
  memBytes?: number;
  inMsgs?: number;
  outMsgs?: number;
  jsMessages?: number;
  jsBytes?: number;
}

export interface ServerStatsSampler {
  /** Stops sampling and returns every sample taken, in time order. */
  stop(): Promise<ServerSample[]>;
}

export function sampleServerStats(
  nodes: ReadonlyArray<{ name: string; monitor: MonitorClient }>,
  clock: () => number,
  everyMs = 1_000,
): ServerStatsSampler {
  const samples: ServerSample[] = [];
  let inFlight: Promise<void> | undefined;
  const sampleOnce = async () => {
    const t = Math.round(clock() / 100) / 10;
    await Promise.all(
      nodes.map(async ({ name, monitor }) => {
        try {
          const [varz, jsz] = await Promise.all([monitor.varz(), monitor.jsz()]);
          samples.push({
            t,
            node: name,
            up: true,
            cpuPercent: varz.cpu,
            memBytes: varz.mem,
            inMsgs: varz.in_msgs,
            outMsgs: varz.out_msgs,
            jsMessages: jsz.messages,
            jsBytes: jsz.bytes,
          });
        } catch {
          samples.push({ t, node: name, up: false });
        }
      }),
    );
  };
  const timer = setInterval(() => {
    // A slow answer (a paused node times out after a second) must not pile up samplers.
    inFlight ??= sampleOnce().finally(() => (inFlight = undefined));
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      return samples.sort((a, b) => a.t - b.t || a.node.localeCompare(b.node));
    },
  };
}
