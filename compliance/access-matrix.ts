// The access matrix the appliance promises (docs/architecture.md#access-control), written down
// independently of nats-roles.json so the live servers can be held to it: per NATS role, which
// publishes, requests (JetStream API calls among them) and subscriptions go through, and per HTTP
// role which gateway routes answer. Every probe is harmless when allowed: a stored subject is
// published with an expected last sequence no stream has (nothing is stored), an admin call names
// a stream that does not exist or carries a body the server refuses. Pure: the probing is in
// access-probe.ts, and evaluation (expected against observed) is here.
import type { ComplianceFinding } from './findings.js';

export type Outcome = 'allowed' | 'denied' | 'silent';

export type ProbeKind = 'publish' | 'stored-publish' | 'request' | 'subscribe';

export interface Probe {
  kind: ProbeKind;
  subject: string;
  body?: string;
  /** Per role: what should happen; a role left out is not tried (the call would act for real). */
  expected: Record<string, 'allowed' | 'denied'>;
  /** A stream administration call (create, update, delete, purge, message delete), for the immutability check. */
  admin?: { action: 'create' | 'update' | 'delete' | 'purge' | 'msg-delete'; stream: string };
}

/** A sequence no stream reaches: a publish expecting it is refused by JetStream after the permission check. */
export const NEVER_SEQ = '9007199254740991';
/** The stream name the delete and create probes use: there is no such stream. */
export const PROBE_STREAM = 'CIM_COMPLIANCE_PROBE';
const PROBE = '__cim_probe__';

export interface MatrixScope {
  prefix: string;
  /** The domain whose subjects the subject probes use. */
  domain: string;
  /** Its stream, and every stream whose administration is probed (domain streams, seals, audit). */
  domainStream: string;
  protectedStreams: readonly string[];
  /** The NATS roles the servers know: the five, and `retention` when the roles file has it. */
  roles: readonly string[];
}

/**
 * The NATS probes and what each role may do. `operator` may do everything, and is not tried where
 * that would act (stepdowns, purges, stream administration).
 */
export function natsProbes(scope: MatrixScope): Probe[] {
  const { prefix: p, domain: d, domainStream: S, roles } = scope;
  const retention = roles.includes('retention');
  const only = (...allowed: string[]): Record<string, 'allowed' | 'denied'> =>
    Object.fromEntries(
      roles.map((r) => [r, allowed.includes(r) || r === 'operator' ? ('allowed' as const) : ('denied' as const)]),
    );
  const untriedForOperator = (...allowed: string[]) => {
    const expected = only(...allowed);
    delete expected.operator;
    return expected;
  };
  const reader = retention ? ['auditor', 'retention'] : ['auditor'];
  const probes: Probe[] = [
    { kind: 'stored-publish', subject: `${p}.${d}.events.${PROBE}`, expected: only('service') },
    { kind: 'stored-publish', subject: `${p}.seals.${d}`, expected: only('service') },
    {
      kind: 'stored-publish',
      subject: `${p}.audit.${PROBE}`,
      expected: only('service', 'gateway', ...(retention ? ['retention'] : [])),
    },
    { kind: 'stored-publish', subject: `$KV.cim_snapshots.${PROBE}`, expected: only('service') },
    { kind: 'stored-publish', subject: `$KV.cim_commands.${PROBE}`, expected: only('service') },
    { kind: 'request', subject: `${p}.${d}.commands.${PROBE}`, expected: only('service', 'gateway', 'loadgen') },
    { kind: 'request', subject: `${p}.${d}.queries.${PROBE}`, expected: only('gateway') },
    { kind: 'publish', subject: `$JS.ACK.${S}.${PROBE}.1.1.1.1.1`, expected: only('service') },
    { kind: 'publish', subject: `$JS.API.CONSUMER.MSG.NEXT.${S}.${PROBE}`, expected: only('service', ...reader) },
    { kind: 'publish', subject: `_INBOX_gateway.${PROBE}`, expected: only() },
    { kind: 'publish', subject: '$SYS.REQ.SERVER.PING', expected: only() },
    { kind: 'request', subject: `$SRV.PING.cim-${d}`, expected: only('gateway') },
    { kind: 'request', subject: '$JS.API.INFO', expected: only('service', 'gateway', ...reader) },
    { kind: 'request', subject: `$JS.API.STREAM.INFO.${S}`, expected: only('service', 'gateway', ...reader) },
    { kind: 'request', subject: '$JS.API.STREAM.NAMES', expected: only('service', ...reader) },
    { kind: 'request', subject: '$JS.API.STREAM.LIST', expected: only('service', ...reader) },
    {
      kind: 'request',
      subject: `$JS.API.STREAM.MSG.GET.${S}`,
      body: '{"seq":1}',
      expected: only('service', ...reader),
    },
    {
      kind: 'request',
      subject: '$JS.API.DIRECT.GET.KV_cim_snapshots',
      body: `{"last_by_subj":"$KV.cim_snapshots.${PROBE}"}`,
      expected: only('service', ...reader),
    },
    { kind: 'request', subject: `$JS.API.CONSUMER.INFO.${S}.${PROBE}`, expected: only('service', ...reader) },
    // No config: refused by the server after the permission check, so nothing is created.
    {
      kind: 'request',
      subject: `$JS.API.CONSUMER.DURABLE.CREATE.${S}.${PROBE}`,
      body: '{}',
      expected: only('service'),
    },
    { kind: 'request', subject: `$JS.API.CONSUMER.DELETE.${S}.${PROBE}`, expected: only('service', ...reader) },
    {
      kind: 'request',
      subject: '$JS.API.META.LEADER.STEPDOWN',
      body: `{"placement":{"cluster":"${PROBE}"}}`,
      expected: untriedForOperator(),
    },
    { kind: 'request', subject: `$JS.API.ACCOUNT.PURGE.${PROBE}`, expected: untriedForOperator() },
    {
      kind: 'request',
      subject: `$JS.API.STREAM.CREATE.${PROBE_STREAM}`,
      // Refused by the server however the permissions go: no stream has 99 replicas.
      body: JSON.stringify({ name: PROBE_STREAM, subjects: [`${p}.${PROBE}.>`], num_replicas: 99 }),
      expected: untriedForOperator(),
      admin: { action: 'create', stream: PROBE_STREAM },
    },
    {
      kind: 'request',
      subject: `$JS.API.STREAM.DELETE.${PROBE_STREAM}`,
      expected: untriedForOperator(),
      admin: { action: 'delete', stream: PROBE_STREAM },
    },
  ];
  for (const stream of scope.protectedStreams) {
    const domainStream = stream !== 'CIM_SEALS' && stream !== 'CIM_AUDIT' && stream !== 'CIM_RETENTION';
    probes.push(
      {
        kind: 'request',
        subject: `$JS.API.STREAM.UPDATE.${stream}`,
        body: JSON.stringify({ name: `${stream}_${PROBE}`, subjects: [`${p}.${PROBE}.>`], num_replicas: 99 }),
        expected: untriedForOperator(),
        admin: { action: 'update', stream },
      },
      {
        kind: 'request',
        subject: `$JS.API.STREAM.PURGE.${stream}`,
        // A filter nothing matches: a purge that got through removes nothing.
        body: JSON.stringify({ filter: `${p}.${PROBE}.none` }),
        expected: untriedForOperator(),
        admin: { action: 'purge', stream },
      },
      {
        kind: 'request',
        subject: `$JS.API.STREAM.MSG.DELETE.${stream}`,
        body: `{"seq":${NEVER_SEQ}}`,
        expected: untriedForOperator(...(retention && domainStream ? ['retention'] : [])),
        admin: { action: 'msg-delete', stream },
      },
    );
  }
  const subscriptions: Array<[string, string[]]> = [
    [`${p}.${d}.commands.*`, ['service']],
    [`${p}.${d}.queries.*`, ['service']],
    ['$SRV.>', ['service']],
    [`${p}.${d}.events.>`, []],
    [`${p}.audit.>`, []],
    ['_INBOX.>', []],
    ['>', []],
    ...roles.filter((r) => r !== 'operator').map((r): [string, string[]] => [`_INBOX_${r}.>`, [r]]),
  ];
  for (const [subject, allowed] of subscriptions)
    probes.push({ kind: 'subscribe', subject, expected: only(...allowed) });
  return probes;
}

/** One cell of the matrix as observed. */
export interface MatrixCell {
  /** `nats` or `http`. */
  plane: 'nats' | 'http';
  role: string;
  /** `publish cim.person.events.x`, `GET /v1/queries/person/CountPeople`, `connect`. */
  action: string;
  expected: 'allowed' | 'denied';
  observed: Outcome;
  /** What answered: a status, an error code. */
  detail?: string;
}

/** Expected against observed: an unexpected allow is critical, an unexpected refusal high, no answer medium. */
export function evaluateMatrix(cells: readonly MatrixCell[]): ComplianceFinding[] {
  const findings: ComplianceFinding[] = [];
  for (const cell of cells) {
    if (cell.observed === cell.expected) continue;
    const what = `${cell.plane} ${cell.role}: ${cell.action}`;
    const evidence = { ...cell, detail: cell.detail ?? null };
    if (cell.observed === 'allowed') {
      findings.push({
        id: `access:unexpected-allow:${cell.plane}:${cell.role}:${cell.action}`,
        check: 'access',
        severity: 'critical',
        message: `${what} went through, but the role may not do it. Fix: remove the grant (nats-roles.json or the gateway's role table) and restart or reload the servers.`,
        evidence,
      });
    } else if (cell.observed === 'denied') {
      findings.push({
        id: `access:unexpected-deny:${cell.plane}:${cell.role}:${cell.action}`,
        check: 'access',
        severity: 'high',
        message: `${what} was refused, but the role needs it; the appliance fails where it does this.`,
        evidence,
      });
    } else {
      findings.push({
        id: `access:no-answer:${cell.plane}:${cell.role}:${cell.action}`,
        check: 'access',
        severity: 'medium',
        message: `${what} was neither answered nor refused within the timeout, so the matrix could not tell.`,
        evidence,
      });
    }
  }
  return findings;
}

/** The HTTP gateway's promised role table: route → roles that may call it. */
export interface HttpProbe {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  allowed: readonly string[];
}

export const HTTP_ROLES = ['operator', 'writer', 'reader', 'auditor'] as const;

export function httpProbes(domain: string, command: string, query: string | undefined): HttpProbe[] {
  const probes: HttpProbe[] = [
    // An empty payload: refused as invalid by whoever gets past the role check, so nothing is written.
    { method: 'POST', path: `/v1/commands/${domain}/${command}`, body: '{}', allowed: ['writer', 'operator'] },
    { method: 'POST', path: `/v1/erasures/${PROBE}`, body: '{}', allowed: ['operator'] },
  ];
  if (query)
    probes.push({ method: 'GET', path: `/v1/queries/${domain}/${query}`, allowed: ['reader', 'auditor', 'operator'] });
  return probes;
}
