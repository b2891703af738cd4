// Stream, subject and bucket names of the event store (docs/architecture.md#subjects-and-streams). The leading subject token
// is a configurable prefix (e.g. `prod.cim`), which covers CIM's environment level.
import { CimError } from '../errors.js';
import { domainName, subjectToken } from './envelope.js';

export const SEALS_STREAM = 'CIM_SEALS';
/** The audit log: one chain per writer, `<prefix>.audit.<writer>` (docs/architecture.md#audit-log). */
export const AUDIT_STREAM = 'CIM_AUDIT';
/** The name the audit log goes by where a domain's would (its seal subject `<prefix>.seals.audit`, findings). */
export const AUDIT_LOG = 'audit';
export const SNAPSHOT_BUCKET = 'cim_snapshots';
/** Retention's removal manifests, `<prefix>.retention.<domain>` (docs/architecture.md#retention-and-legal-holds). */
export const RETENTION_STREAM = 'CIM_RETENTION';
/** Legal holds on aggregates and data subjects: what retention never removes and erasure refuses. */
export const HOLDS_BUCKET = 'cim_holds';
/** What became of each command with a command id, per aggregate (the idempotency window is its TTL). */
export const COMMAND_BUCKET = 'cim_commands';

/**
 * Names whose subjects or streams the appliance itself uses (`cim.seals.*`, `cim.audit.*`,
 * `cim.retention.*` and CIM_RETENTION): a domain of that name would overlap them.
 */
export const RESERVED_DOMAINS: readonly string[] = ['seals', 'audit', 'retention'];

export function assertDomain(domain: string): void {
  if (!domainName.test(domain)) {
    throw new CimError(
      'CIM-INVALID-INPUT',
      `domain "${domain}": expected lower-case letters, digits, "-" or "_", starting with a letter`,
    );
  }
  if (RESERVED_DOMAINS.includes(domain)) {
    throw new CimError(
      'CIM-INVALID-INPUT',
      `domain "${domain}" is reserved: its subjects would overlap the appliance's own (${RESERVED_DOMAINS.join(', ')})`,
    );
  }
}

export function assertAggregateId(aggregateId: string): void {
  if (!subjectToken.test(aggregateId)) {
    throw new CimError(
      'CIM-INVALID-INPUT',
      `aggregate id "${aggregateId}": expected letters, digits, "_", "-" or "=" (it closes a NATS subject and names a KV key)`,
    );
  }
}

/** `person` → `CIM_PERSON`. */
export function domainStream(domain: string): string {
  return 'CIM_' + domain.toUpperCase().replace(/-/g, '_');
}

export class Subjects {
  constructor(readonly prefix = 'cim') {}

  event(domain: string, aggregateId: string): string {
    return `${this.prefix}.${domain}.events.${aggregateId}`;
  }

  domainEvents(domain: string): string {
    return `${this.prefix}.${domain}.events.>`;
  }

  seal(domain: string): string {
    return `${this.prefix}.seals.${domain}`;
  }

  /**
   * The seal stream's subjects: one token after `seals`, exactly what the sealers write, so that
   * nothing else sent under `<prefix>.seals.` (a request to `cim.seals.commands.X`, say) is stored.
   */
  seals(): string {
    return `${this.prefix}.seals.*`;
  }

  /** The chain of one audit writer. */
  audit(writer: string): string {
    return `${this.prefix}.audit.${writer}`;
  }

  /** The audit stream's subjects: one token after `audit`, the writer id. */
  audits(): string {
    return `${this.prefix}.audit.*`;
  }

  /** The removal manifests of one domain's retention. */
  retention(domain: string): string {
    return `${this.prefix}.retention.${domain}`;
  }

  /** The retention stream's subjects: one token after `retention`, the domain. */
  retentions(): string {
    return `${this.prefix}.retention.*`;
  }

  /** What the seal stream took before (`<prefix>.seals.>`): provision narrows a stream created with it. */
  legacySeals(): string {
    return `${this.prefix}.seals.>`;
  }
}
