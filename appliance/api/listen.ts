// Listen addresses (`HOST:PORT`, IPv6 in brackets) as the HTTP gateway and the metrics server take
// them, parsed once, and the address a bound server reports written back the same way.
import type { AddressInfo } from 'node:net';
import { CimError } from '../errors.js';

/** `127.0.0.1:8080`, `[::1]:8080`, `0.0.0.0:0` → host and port; anything else is CIM-INVALID-CONFIG naming `what`. */
export function parseListen(listen: string, what = 'http listen address'): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(listen);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65_535)
    throw new CimError('CIM-INVALID-CONFIG', `${what} ${JSON.stringify(listen)} is not HOST:PORT`);
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** The `HOST:PORT` a server is bound to (`fallback` when it has no address yet). */
export function formatAddress(bound: AddressInfo | string | null, fallback: string): string {
  return bound && typeof bound === 'object'
    ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`
    : fallback;
}
