// A standalone `/metrics` endpoint (node:http) for an appliance that runs no HTTP gateway
// (`cim serve --metrics HOST:PORT`). It serves only GET /metrics, without authentication: bind it
// to an address only the scraper reaches, or firewall it.
import { createServer, type Server } from 'node:http';
import { formatAddress, parseListen } from '../api/listen.js';
import { CimError } from '../errors.js';

/** What serves the exposition text: an ApplianceMetrics, or anything rendering the same. */
export interface MetricsSource {
  readonly contentType: string;
  render(): Promise<string>;
}

export interface MetricsServerHandle {
  /** Where it listens, e.g. `127.0.0.1:9464`. */
  readonly address: string;
  readonly url: string;
  stop(): Promise<void>;
}

export async function startMetricsServer(metrics: MetricsSource, listen: string): Promise<MetricsServerHandle> {
  const { host, port } = parseListen(listen, 'metrics listen address');
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: only /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end();
      return;
    }
    metrics.render().then(
      (text) =>
        response
          .writeHead(200, { 'content-type': metrics.contentType })
          .end(request.method === 'HEAD' ? undefined : text),
      () => response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n'),
    );
  });
  // A scraper's idle keep-alive connection must not hold up stop().
  server.keepAliveTimeout = 5_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    server.close();
    throw new CimError('CIM-UNAVAILABLE', `cannot listen on ${listen} for metrics: ${(error as Error).message}`, {
      cause: error,
      hint: 'Give --metrics (or CIM_METRICS_LISTEN) a free HOST:PORT.',
    });
  }
  const address = formatAddress(server.address(), listen);
  return {
    address,
    url: `http://${address}/metrics`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
