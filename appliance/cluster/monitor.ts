// Reads a server's HTTP monitoring endpoints (/varz, /jsz, /routez, /healthz). Every call has a
// short timeout: a paused (SIGSTOPped) server accepts the connection but never answers.

export interface Varz {
  server_name: string;
  version: string;
  host: string;
  port: number;
  http_port: number;
  connections: number;
  cluster?: { name?: string; cluster_port?: number };
  /** Process CPU, percent of one core, as the server measured it. */
  cpu?: number;
  /** Resident memory, bytes. */
  mem?: number;
  in_msgs?: number;
  out_msgs?: number;
  in_bytes?: number;
  out_bytes?: number;
  slow_consumers?: number;
}

export interface Jsz {
  streams: number;
  consumers: number;
  messages: number;
  bytes?: number;
  meta_cluster?: {
    name?: string;
    leader?: string;
    cluster_size?: number;
    /** On the meta leader only: the other peers, and whether the leader counts each as current. */
    replicas?: Array<{ name: string; current: boolean; offline?: boolean }>;
  };
  account_details?: Array<{
    name: string;
    stream_detail?: Array<{ name: string; state: { messages: number; first_seq: number; last_seq: number } }>;
  }>;
}

export interface Routez {
  num_routes: number;
}

export class MonitorClient {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 1_000,
  ) {}

  private async get<T>(path: string): Promise<T> {
    const response = await fetch(this.baseUrl + path, { signal: AbortSignal.timeout(this.timeoutMs) });
    if (!response.ok) throw new Error(`${this.baseUrl}${path}: HTTP ${response.status}`);
    return (await response.json()) as T;
  }

  varz(): Promise<Varz> {
    return this.get('/varz');
  }

  jsz(options: { streams?: boolean } = {}): Promise<Jsz> {
    return this.get(options.streams ? '/jsz?accounts=true&streams=true' : '/jsz');
  }

  routez(): Promise<Routez> {
    return this.get('/routez');
  }

  /** True when the server says it is healthy (JetStream enabled and current). */
  async healthy(): Promise<boolean> {
    try {
      const response = await fetch(this.baseUrl + '/healthz', { signal: AbortSignal.timeout(this.timeoutMs) });
      return response.ok;
    } catch {
      return false;
    }
  }

  /** This server's replica of a stream in the global account, as it reports it itself. */
  async localStreamState(
    stream: string,
  ): Promise<{ messages: number; first_seq: number; last_seq: number } | undefined> {
    const jsz = await this.jsz({ streams: true });
    for (const account of jsz.account_details ?? []) {
      const detail = account.stream_detail?.find((s) => s.name === stream);
      if (detail) return detail.state;
    }
    return undefined;
  }
}
