// Where a command or query request came from, as its audit record names it: the HTTP gateway says
// so in two headers (`Cim-Source`, `Cim-Role`); nothing else of a request is trusted for it.
import type { MsgHdrs } from 'nats';

/** A role as the gateway names it in `Cim-Role`: a short lower-case word. */
const roleHeader = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * Where a request came from, by the only two headers trusted for it: `Cim-Source: http` and
 * `Cim-Role` set by the HTTP gateway; anything else is `nats`/`nats`. (Who may send such headers
 * at all is a matter of NATS permissions: the gateway's user.)
 */
export function requestOrigin(h: MsgHdrs | undefined): { source: 'http' | 'nats'; role: string } {
  if (h?.get('Cim-Source') !== 'http') return { source: 'nats', role: 'nats' };
  const role = h.get('Cim-Role');
  return { source: 'http', role: roleHeader.test(role) ? role : 'nats' };
}
