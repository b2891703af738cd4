// The pure parts of the compliance checks: verification findings mapped to compliance findings,
// the access matrix's expectations and its evaluation, the audit index that explains events by
// accepted commands, and the erasures the audit log records.
import { describe, expect, it } from 'vitest';
import { AUDIT_VERSION, type AuditRecord, type FindingKind, type TailedRecord } from '../../appliance/index.js';
import {
  erasedSubjects,
  evaluateMatrix,
  fromIntegrityFinding,
  indexCommands,
  INTEGRITY_SEVERITY,
  natsProbes,
  unexplained,
  type EventFacts,
} from '../../compliance/index.js';

describe('verification findings as compliance findings', () => {
  it('keeps the stream, sequence, aggregate and values, in a stable id', () => {
    const finding = fromIntegrityFinding('immutability', {
      kind: 'missing-event',
      domain: 'person',
      stream: 'CIM_PERSON',
      streamSeq: 57,
      expected: 'seq 57..57',
      actual: 'absent',
      message: 'CIM_PERSON seq 57 sealed by bafy… is gone',
    });
    expect(finding).toEqual({
      id: 'immutability:missing-event:CIM_PERSON:57',
      check: 'immutability',
      severity: 'critical',
      message: 'CIM_PERSON seq 57 sealed by bafy… is gone',
      evidence: {
        kind: 'missing-event',
        domain: 'person',
        stream: 'CIM_PERSON',
        streamSeq: 57,
        aggregateId: null,
        expected: 'seq 57..57',
        actual: 'absent',
      },
    });
  });

  it('names a finding without a sequence by its aggregate, and rates loss and tampering critical', () => {
    const f = fromIntegrityFinding('erasure', {
      kind: 'chain-broken',
      domain: 'person',
      stream: 'CIM_PERSON',
      aggregateId: 'ada',
      message: 'x',
    });
    expect(f.id).toBe('erasure:chain-broken:CIM_PERSON:ada');
    const critical: FindingKind[] = ['missing-event', 'seal-mismatch', 'truncated', 'events-removed', 'cid-mismatch'];
    for (const kind of critical) expect(INTEGRITY_SEVERITY[kind]).toBe('critical');
    expect(INTEGRITY_SEVERITY['seal-untrusted']).toBe('high');
  });
});

describe('the access matrix', () => {
  const roles = ['service', 'gateway', 'loadgen', 'auditor', 'operator'];
  const probes = natsProbes({
    prefix: 'cim',
    domain: 'person',
    domainStream: 'CIM_PERSON',
    protectedStreams: ['CIM_PERSON', 'CIM_SEALS', 'CIM_AUDIT'],
    roles,
  });
  const expected = (subject: string) => probes.find((p) => p.subject === subject)!.expected;

  it('lets only service publish events and seals, and never tries operator where the call would act', () => {
    expect(expected('cim.person.events.__cim_probe__')).toEqual({
      service: 'allowed',
      gateway: 'denied',
      loadgen: 'denied',
      auditor: 'denied',
      operator: 'allowed',
    });
    expect(expected('$JS.API.STREAM.PURGE.CIM_AUDIT').operator).toBeUndefined();
    expect(Object.values(expected('$JS.API.STREAM.MSG.DELETE.CIM_PERSON'))).toEqual([
      'denied',
      'denied',
      'denied',
      'denied',
    ]);
  });

  it('gives a retention role the auditor reads and message deletes on domain streams only', () => {
    const withRetention = natsProbes({
      prefix: 'cim',
      domain: 'person',
      domainStream: 'CIM_PERSON',
      protectedStreams: ['CIM_PERSON', 'CIM_SEALS', 'CIM_AUDIT'],
      roles: [...roles, 'retention'],
    });
    const of = (subject: string) => withRetention.find((p) => p.subject === subject)!.expected.retention;
    expect(of('$JS.API.STREAM.MSG.DELETE.CIM_PERSON')).toBe('allowed');
    expect(of('$JS.API.STREAM.MSG.DELETE.CIM_SEALS')).toBe('denied');
    expect(of('$JS.API.STREAM.MSG.DELETE.CIM_AUDIT')).toBe('denied');
    expect(of('$JS.API.STREAM.INFO.CIM_PERSON')).toBe('allowed');
    expect(of('cim.person.events.__cim_probe__')).toBe('denied');
    expect(of('$JS.API.STREAM.PURGE.CIM_PERSON')).toBe('denied');
  });

  it('makes every probe harmless: stored subjects expect an impossible sequence, admin calls carry refused bodies', () => {
    for (const p of probes) {
      if (p.admin?.action === 'update' || p.admin?.action === 'create') expect(p.body).toContain('"num_replicas":99');
      if (p.admin?.action === 'msg-delete') expect(p.body).toBe('{"seq":9007199254740991}');
      if (p.admin?.action === 'delete') expect(p.subject).toBe('$JS.API.STREAM.DELETE.CIM_COMPLIANCE_PROBE');
    }
    expect(probes.filter((p) => p.kind === 'publish').every((p) => !p.subject.includes('.events.'))).toBe(true);
  });

  it('rates an unexpected allow critical, an unexpected refusal high and no answer medium', () => {
    const findings = evaluateMatrix([
      { plane: 'nats', role: 'gateway', action: 'publish x', expected: 'denied', observed: 'allowed' },
      { plane: 'nats', role: 'service', action: 'publish y', expected: 'allowed', observed: 'denied' },
      { plane: 'http', role: 'reader', action: 'GET /q', expected: 'allowed', observed: 'silent' },
      { plane: 'http', role: 'writer', action: 'POST /c', expected: 'allowed', observed: 'allowed' },
    ]);
    expect(findings.map((f) => [f.id, f.severity])).toEqual([
      ['access:unexpected-allow:nats:gateway:publish x', 'critical'],
      ['access:unexpected-deny:nats:service:publish y', 'high'],
      ['access:no-answer:http:reader:GET /q', 'medium'],
    ]);
  });
});

const audit = (streamSeq: number, fields: Partial<AuditRecord>): TailedRecord => ({
  streamSeq,
  subject: 'cim.audit.w',
  cid: `bafy${streamSeq}`,
  record: {
    v: AUDIT_VERSION,
    id: `r${streamSeq}`,
    writer: 'w',
    seq: streamSeq,
    actor: 'crm',
    role: 'nats',
    source: 'nats',
    action: 'command.person.RegisterPerson',
    target: 'person/ada',
    outcome: 'accepted',
    correlationId: 'c1',
    at: '2026-01-01T00:00:00Z',
    prev: null,
    ...fields,
  },
});

const event = (fields: Partial<EventFacts>): EventFacts => ({
  stream: 'CIM_PERSON',
  streamSeq: 1,
  cid: 'bafyevent',
  domain: 'person',
  aggregateId: 'ada',
  type: 'PersonRegistered',
  correlationId: 'c1',
  causationId: 'c1',
  actor: 'crm',
  at: '2026-01-01T00:00:00Z',
  ...fields,
});

describe('events explained by audited commands', () => {
  const index = indexCommands([
    audit(1, {}),
    audit(2, { correlationId: 'c2', outcome: 'rejected' }),
    audit(3, { correlationId: 'c3', role: 'reader', source: 'http' }),
    audit(4, { action: 'erasure', target: 'subject/ada', outcome: 'ok' }),
  ]);

  it('explains an event by an accepted command for its aggregate and correlation, by its actor', () => {
    expect(unexplained(index, event({}))).toBeUndefined();
    expect(index.accepted.get('person')).toBe(2);
  });

  it('finds an event no accepted command explains critical, naming its stream and sequence', () => {
    expect(unexplained(index, event({ streamSeq: 9, correlationId: 'forged' }))).toMatchObject({
      id: 'audit-completeness:unaudited-event:CIM_PERSON:9',
      severity: 'critical',
    });
    // A rejected command explains nothing.
    expect(unexplained(index, event({ correlationId: 'c2' }))?.id).toBe(
      'audit-completeness:unaudited-event:CIM_PERSON:1',
    );
    // Another aggregate under the same correlation is not explained by it.
    expect(unexplained(index, event({ aggregateId: 'bob' }))?.severity).toBe('critical');
  });

  it('finds a command by a role that may not send commands, and an event whose actor is not the command’s', () => {
    expect(unexplained(index, event({ correlationId: 'c3' }))?.id).toBe(
      'audit-completeness:unauthorised-actor:CIM_PERSON:1',
    );
    expect(unexplained(index, event({ actor: 'someone-else' }))).toMatchObject({
      id: 'audit-completeness:actor-mismatch:CIM_PERSON:1',
      severity: 'high',
    });
  });
});

describe('the erasures the audit log records', () => {
  it('takes the subjects of erasures done, not those refused or failed', () => {
    const subjects = erasedSubjects([
      audit(1, { action: 'erasure', target: 'subject/ada', outcome: 'ok' }),
      audit(2, { action: 'erasure', target: 'subject/bob', outcome: 'rejected', code: 'CIM-NOT-FOUND' }),
      audit(3, { action: 'erasure', target: 'subject/ada', outcome: 'ok' }),
      audit(4, { action: 'erasure', target: 'subject/(invalid)', outcome: 'ok' }),
      { streamSeq: 5, subject: 'cim.audit.w', invalid: 'not a record' },
    ]);
    expect([...subjects.keys()]).toEqual(['ada']);
    expect(subjects.get('ada')!.map((a) => a.streamSeq)).toEqual([1, 3]);
  });
});
