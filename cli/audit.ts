// `cim audit tail | verify`, and how the other verbs record what they did in the audit log: as
// `cli:<os user>` in the operator role (key changes, admin verbs), on a writer of their own.
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { NatsConnection } from 'nats';
import {
  AUDIT_LOG,
  AUDIT_STREAM,
  auditLastSeq,
  AuditWriter,
  compareWithWatermark,
  ExitCode,
  followAuditLog,
  missingDomain,
  onShutdown,
  printable,
  provision,
  readAuditLog,
  readWatermarks,
  renderVerification,
  SEALS_STREAM,
  Subjects,
  toCimError,
  trustedVerifiers,
  verifyAudit,
  watermarksFile,
  writeWatermarks,
  type ApplianceConfig,
  type AuditFilter,
  type AuditSink,
  type DomainVerification,
  type TailedRecord,
  type Verifier,
  type Watermarks,
} from '../appliance/index.js';
import { withConnection, type OpenCluster } from './with-cluster.js';
import { action, configFrom, log, positiveInteger, print, servedDomains } from './wiring.js';

/** Who a verb acts as in the audit log: the user running it. */
export function cliActor(): string {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = process.env.USER ?? 'unknown';
  }
  return `cli:${name}`;
}

/**
 * An audit writer for a CLI verb on `cluster`: the audit stream is provisioned first when the
 * cluster has none yet (as `cim serve` would), so a verb's record never waits on a stream nobody made.
 */
export async function cliAuditWriter(config: ApplianceConfig, cluster: OpenCluster) {
  // Records are written as operator: the one role that may also provision the audit stream.
  const nc = await cluster.connect('operator', 'cim-audit-writer');
  const jsm = await nc.jetstreamManager();
  const exists = await jsm.streams.info(AUDIT_STREAM).then(
    () => true,
    () => false,
  );
  if (!exists)
    await provision(nc, {
      domains: (await servedDomains(config)).map((d) => d.name),
      replicas: Math.min(3, cluster.nodeCount),
      duplicateWindowMs: 120_000,
    });
  return AuditWriter.open(nc, { name: 'cli' });
}

/**
 * Runs an administrative verb's work and records it (`admin.<verb>`, outcome ok or failed with its
 * code) before the verb says anything: what `work` returns is printed only once it is on record.
 */
export async function recordAdmin<T>(
  audit: AuditSink,
  verb: string,
  target: string,
  work: () => Promise<T>,
): Promise<T> {
  const base = {
    actor: cliActor(),
    role: 'operator',
    source: 'cli' as const,
    action: `admin.${verb}`,
    target,
    correlationId: randomUUID(),
  };
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await audit.record({ ...base, outcome: 'failed', code: toCimError(error).code }).catch(() => {});
    throw error;
  }
  await audit.record({ ...base, outcome: 'ok' });
  return result;
}

/** Whether the audit log was there once: seals of it, or an earlier verification saw it. */
async function auditLogExisted(nc: NatsConnection, seen: Watermarks, subjects = new Subjects()): Promise<boolean> {
  if (seen[AUDIT_LOG]) return true;
  const jsm = await nc.jetstreamManager();
  try {
    await jsm.streams.getMessage(SEALS_STREAM, { last_by_subj: subjects.seal(AUDIT_LOG) });
    return true;
  } catch {
    return false;
  }
}

/**
 * The audit log's verification (its chains, seals, and that nothing was deleted from it), with its
 * watermark compared and updated in `seenNow`; undefined when there is no audit log and never was.
 */
export async function verifyAuditLog(
  nc: NatsConnection,
  stateDir: string,
  trusted: readonly Verifier[],
  seenBefore: Watermarks,
  seenNow: Watermarks,
  onProgress?: (domain: string, seq: number, last: number) => void,
): Promise<DomainVerification | undefined> {
  const jsm = await nc.jetstreamManager();
  const exists = await jsm.streams.info(AUDIT_STREAM).then(
    () => true,
    () => false,
  );
  if (!exists) {
    if (!(await auditLogExisted(nc, seenBefore))) return undefined;
    return missingDomain(AUDIT_LOG, 'the audit log was there before (seals of it, or an earlier verification)');
  }
  const result = await verifyAudit(nc, { trusted, ...(onProgress ? { onProgress } : {}) });
  seenNow[AUDIT_LOG] = { lastSeq: result.lastSeq, seals: result.seals };
  result.findings.push(
    ...compareWithWatermark(
      AUDIT_LOG,
      AUDIT_STREAM,
      seenBefore[AUDIT_LOG],
      seenNow[AUDIT_LOG],
      watermarksFile(stateDir),
    ),
  );
  return result;
}

function tailLine(t: TailedRecord): string {
  if (!t.record) return `${t.streamSeq} ${printable(t.subject)} NOT AN AUDIT RECORD: ${printable(t.invalid ?? '')}`;
  const r = t.record;
  return printable(
    `${r.at} ${t.streamSeq} ${r.writer}#${r.seq} ${r.actor} ${r.role}/${r.source} ${r.action} ${r.target} ${r.outcome}` +
      (r.code ? ` ${r.code}` : '') +
      ` correlation=${r.correlationId}`,
  );
}

function tailJson(t: TailedRecord): string {
  if (!t.record) return JSON.stringify({ streamSeq: t.streamSeq, subject: t.subject, invalid: t.invalid });
  const { prev, ...rest } = t.record;
  return JSON.stringify({ streamSeq: t.streamSeq, cid: t.cid, ...rest, prev: prev?.toString() ?? null });
}

interface TailFlags {
  follow?: boolean;
  actor?: string;
  action?: string;
  limit?: number;
  json?: boolean;
}

export function registerAuditCommands(program: Command): void {
  const audit = program
    .command('audit')
    .description(
      `the audit log (stream ${AUDIT_STREAM}): who did what to which id, with what outcome — every command,\n` +
        'every query of personal data, key changes and admin verbs; one CID chain per writer, sealed like a domain',
    );

  audit
    .command('tail')
    .description('print audit records, oldest first (one line each, or one JSON object per line with --json)')
    .option('--follow', 'then print each new record as it is stored, until Ctrl-C')
    .option('--actor <actor>', 'only records of this actor (exactly, e.g. crm or cli:alice)')
    .option('--action <action>', 'only this action or those under it: command, command.person, apikey.add, …')
    .option('--limit <n>', 'only the last N records that match (default: all)', positiveInteger('--limit'))
    .option('--json', 'one JSON object per record and line')
    .action(
      action(async (options: TailFlags, command: Command) => {
        const config = configFrom(command);
        const filter: AuditFilter = { actor: options.actor, action: options.action };
        const show = (t: TailedRecord) => print(options.json ? tailJson(t) : tailLine(t));
        await withConnection(config, 'auditor', 'cim-audit-tail', async (nc) => {
          const lastSeq = await auditLastSeq(nc);
          const records = await readAuditLog(nc, {
            filter,
            toSeq: lastSeq,
            ...(options.limit !== undefined ? { limit: options.limit } : {}),
          });
          for (const t of records) show(t);
          if (!options.follow) {
            if (records.length === 0) log('no audit records match');
            return;
          }
          log('following the audit log (Ctrl-C to stop)');
          const stop = new AbortController();
          const following = followAuditLog(nc, { afterSeq: lastSeq, filter, signal: stop.signal, onRecord: show });
          const unregister = onShutdown(async () => {
            stop.abort();
            await following.catch(() => {});
          });
          try {
            await following;
          } finally {
            unregister();
          }
        });
      }),
    );

  audit
    .command('verify')
    .description(
      'verify the audit log alone: every writer chain (CIDs recompute, prev links, seq contiguous), its seals\n' +
        '(Merkle root, signature, seal chain), and that no record was deleted; exit 1 with findings naming the\n' +
        'stream sequence, writer and CIDs',
    )
    .option(
      '--key <file...>',
      "trusted Ed25519 public key (PEM) for seal signatures; the state dir's own key is always trusted",
    )
    .option('--json', 'print the result as JSON')
    .action(
      action(async (options: { key?: string[]; json?: boolean }, command: Command) => {
        const config = configFrom(command);
        const trusted = trustedVerifiers(config.stateDir, options.key);
        const seenBefore = readWatermarks(config.stateDir);
        await withConnection(config, 'auditor', 'cim-audit-verify', async (nc) => {
          const seenNow: Watermarks = Object.create(null) as Watermarks;
          const result = await verifyAuditLog(nc, config.stateDir, trusted, seenBefore, seenNow, (d, seq, last) =>
            log(`verifying ${d}: seq ${seq} of ${last}`),
          );
          writeWatermarks(config.stateDir, seenBefore, seenNow);
          const findings = result ? result.findings.length + result.findingsOmitted : 0;
          if (options.json)
            print(
              JSON.stringify(
                { ok: findings === 0, findings, trustedKeys: trusted.map((v) => v.keyId), audit: result ?? null },
                null,
                2,
              ),
            );
          else if (!result) print(`no audit log to verify (${AUDIT_STREAM} does not exist, and never did)`);
          else
            print(
              renderVerification(
                [result],
                trusted.map((v) => v.keyId),
              ),
            );
          if (findings > 0) process.exitCode = ExitCode.checkFailed;
        });
      }),
    );
}
