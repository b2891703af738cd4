// The live access matrix: every NATS role connects with its own credentials and tries the
// allowed and forbidden actions of access-matrix.ts; an HTTP gateway started here (loopback, a free
// port, one temporary in-memory key per HTTP role) answers real requests per role; a connection
// without credentials, and one with a key the servers do not know, must be refused.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from 'nats';
import {
  CimError,
  connectNats,
  createApiKey,
  domainStream,
  KeyRing,
  NATS_ROLES,
  roleDefinition,
  SEALS_STREAM,
  AUDIT_STREAM,
  startGateway,
  type NatsRole,
} from '../../appliance/index.js';
import { evaluateMatrix, httpProbes, HTTP_ROLES, natsProbes, type MatrixCell, type Probe } from '../access-matrix.js';
import { RoleProbe } from '../access-probe.js';
import type { CheckContext, CheckOutcome, ComplianceCheck } from '../findings.js';

/** What the NATS probes found, by cell, with the probes that made them: shared with the immutability check. */
export interface NatsMatrix {
  probes: Probe[];
  cells: Array<MatrixCell & { probe: Probe }>;
}

/** The protected streams whose administration is probed: the served domains', the seals', the audit log's. */
function protectedStreams(ctx: CheckContext): string[] {
  return [...ctx.domains.map((d) => domainStream(d.name)), SEALS_STREAM, AUDIT_STREAM];
}

/** The NATS roles the servers know: the appliance's roles, and `retention` once the roles file defines it. */
export function natsRoles(): string[] {
  const roles: string[] = [...NATS_ROLES];
  try {
    if (!roles.includes('retention')) {
      roleDefinition('retention' as NatsRole);
      roles.push('retention');
    }
  } catch {
    // not defined: no such role to probe
  }
  return roles;
}

/** Runs the NATS probes once per `cim comply` (the immutability check reads the same matrix). */
export function natsMatrix(ctx: CheckContext, progress?: (done: number, total?: number) => void): Promise<NatsMatrix> {
  return ctx.once('access:nats-matrix', async () => {
    const domain = ctx.domains[0]?.name ?? 'person';
    const roles = natsRoles();
    const probes = natsProbes({
      prefix: ctx.subjects.prefix,
      domain,
      domainStream: domainStream(domain),
      protectedStreams: protectedStreams(ctx),
      roles,
    });
    const total = roles.length * probes.length;
    let done = 0;
    const cells: NatsMatrix['cells'] = [];
    // The roles in parallel (each its own connection and violations), each role's probes one after another.
    await Promise.all(
      roles.map(async (role) => {
        let probe: RoleProbe;
        try {
          probe = await RoleProbe.open(role, ctx.cluster.endpointFor(role as NatsRole));
        } catch (error) {
          for (const p of probes) {
            const expected = p.expected[role];
            if (expected)
              cells.push({
                plane: 'nats',
                role,
                action: `${p.kind} ${p.subject}`,
                expected,
                observed: 'denied',
                detail: `cannot connect: ${(error as Error).message}`,
                probe: p,
              });
          }
          return;
        }
        try {
          for (const p of probes) {
            const expected = p.expected[role];
            if (expected) {
              const { outcome, detail } = await probe.run(p);
              cells.push({
                plane: 'nats',
                role,
                action: `${p.kind} ${p.subject}`,
                expected,
                observed: outcome,
                ...(detail !== undefined ? { detail } : {}),
                probe: p,
              });
            }
            progress?.(++done, total);
          }
        } finally {
          await probe.close();
        }
      }),
    );
    return { probes, cells };
  });
}

/** Connections without valid credentials: none may be accepted. */
async function authenticationCells(ctx: CheckContext): Promise<MatrixCell[]> {
  const cells: MatrixCell[] = [];
  const attempt = async (action: string, endpoint: Parameters<typeof connectNats>[0]) => {
    try {
      const nc = await connectNats(endpoint, { timeoutMs: 2_000, extra: { maxReconnectAttempts: 0 } });
      await nc.close();
      cells.push({ plane: 'nats', role: 'anonymous', action, expected: 'denied', observed: 'allowed' });
    } catch (error) {
      cells.push({
        plane: 'nats',
        role: 'anonymous',
        action,
        expected: 'denied',
        observed: 'denied',
        detail: error instanceof CimError ? error.message.slice(0, 200) : String(error),
      });
    }
  };
  await attempt('connect without credentials', { servers: ctx.cluster.servers });
  const dir = mkdtempSync(join(tmpdir(), 'cim-access-'));
  try {
    const seedFile = join(dir, 'stranger.nk');
    writeFileSync(seedFile, new TextDecoder().decode(nkeys.createUser().getSeed()), { mode: 0o600 });
    await attempt('connect with an unknown nkey', { servers: ctx.cluster.servers, nkeySeedFile: seedFile });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return cells;
}

/** Each HTTP role (and no key, and a wrong key) against a gateway started here on loopback. */
async function httpCells(ctx: CheckContext): Promise<MatrixCell[]> {
  const domain = ctx.domains[0];
  if (!domain) return [];
  const keys = await Promise.all(HTTP_ROLES.map((role) => createApiKey(role, `cim-comply-${role}`, 1 << 10)));
  const nc = await ctx.connect('gateway');
  const gateway = await startGateway({
    nc,
    listen: '127.0.0.1:0',
    domains: ctx.domains,
    keys: new KeyRing(keys.map((k) => k.entry)),
    subjects: ctx.subjects,
    timeoutMs: 2_000,
    // Serves the route so its role check can be tried; it never erases anything.
    erase: async () => {
      throw new CimError('CIM-NOT-FOUND', 'the access check never erases');
    },
  });
  const query = (domain.definition.projections ?? []).flatMap((p) => Object.keys(p.queries ?? {}))[0];
  const probes = httpProbes(domain.name, domain.commandTypes[0]!, query);
  const callers: Array<[string, string | undefined]> = [
    ...HTTP_ROLES.map((role, i): [string, string] => [role, keys[i]!.token]),
    ['anonymous', undefined],
    ['wrong-key', `${keys[0]!.token.slice(0, -4)}AAAA`],
  ];
  const cells: MatrixCell[] = [];
  try {
    for (const probe of probes) {
      for (const [role, token] of callers) {
        const response = await fetch(gateway.url + probe.path, {
          method: probe.method,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(probe.body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          ...(probe.body !== undefined ? { body: probe.body } : {}),
          signal: AbortSignal.timeout(10_000),
        });
        await response.arrayBuffer();
        cells.push({
          plane: 'http',
          role,
          action: `${probe.method} ${probe.path}`,
          expected: probe.allowed.includes(role) ? 'allowed' : 'denied',
          observed: response.status === 401 || response.status === 403 ? 'denied' : 'allowed',
          detail: `HTTP ${response.status}`,
        });
      }
    }
  } finally {
    await gateway.stop();
  }
  return cells;
}

export const accessCheck: ComplianceCheck = {
  name: 'access',
  title: 'Access control (live matrix)',
  async run(ctx, progress): Promise<CheckOutcome> {
    const matrix = await natsMatrix(ctx, progress);
    const auth = await authenticationCells(ctx);
    const http = await httpCells(ctx);
    const cells: MatrixCell[] = [...matrix.cells.map(({ probe: _probe, ...cell }) => cell), ...auth, ...http];
    const findings = evaluateMatrix(cells);
    return {
      check: 'access',
      findings,
      examined: {
        natsProbes: matrix.cells.length,
        connections: auth.length,
        httpProbes: http.length,
      },
      evidence: { matrix: cells.map((c) => ({ ...c, detail: c.detail ?? null })) },
    };
  },
};
