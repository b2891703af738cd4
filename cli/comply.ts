// `cim comply`: runs the compliance checks (all, or those --check names) against the cluster with
// a live progress line, prints a table of findings by severity and what each check examined,
// writes the signed compliance, retention and audit reports into the ledger, and exits 1 on any
// critical or high finding.
import { Command, Option } from 'commander';
import { CimError, ExitCode, loadOrCreateSigner, printable, trustedVerifiers } from '../appliance/index.js';
import {
  CHECKS,
  countBySeverity,
  DEFAULT_MAX_UNSEALED_AGE_MS,
  failed,
  openCheckContext,
  runChecks,
  selectChecks,
  SEVERITIES,
  auditPeriodStart,
  buildAuditReport,
  RemovedEvents,
  retentionSummary,
  sealedEventLeaves,
  writeComplianceReports,
  type CheckOutcome,
  type WrittenComplianceReports,
} from '../compliance/index.js';
import { failingSeverity, Ledger } from '../reports/index.js';
import { environment } from '../scenarios/index.js';
import { statusLine } from './tty.js';
import { withCluster } from './with-cluster.js';
import { action, configFrom, print, servedDomains } from './wiring.js';

interface ComplyFlags {
  check?: string[];
  json?: boolean;
  key?: string[];
  maxUnsealedAge: number;
}

/** `90s`, `30m`, `1h`, `2d`: a duration of at least one second, in ms. */
export function parseAge(text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const ms = match ? Number(match[1]) * unit[match[2] as keyof typeof unit] : NaN;
  if (!Number.isSafeInteger(ms) || ms < 1_000)
    throw new CimError('CIM-INVALID-INPUT', `--max-unsealed-age: expected a duration such as 30m or 1h, got "${text}"`);
  return ms;
}

export function registerComplyCommand(program: Command): void {
  program
    .command('comply')
    .description(
      'run the compliance checks against the cluster, print a table of their findings and write the signed compliance, retention and audit reports into the ledger; exit 1 on any critical or high finding',
    )
    .addOption(
      new Option('--check <name...>', `run only these checks: ${CHECKS.map((c) => c.name).join(', ')}`).argParser(
        (name: string, previous: string[] | undefined) => [...(previous ?? []), selectChecks([name])[0]!.name],
      ),
    )
    .addOption(
      new Option('--max-unsealed-age <duration>', 'events unsealed for longer are a finding (e.g. 30m, 1h)')
        .default(DEFAULT_MAX_UNSEALED_AGE_MS, '1h')
        .argParser(parseAge),
    )
    .option(
      '--key <file...>',
      "trusted Ed25519 public key (PEM) for seal signatures; the state dir's own key is always trusted",
    )
    .option('--json', 'print the outcomes and the report as JSON')
    .addHelpText(
      'after',
      [
        '',
        'Checks:',
        '  access              the live access matrix: each NATS role (its own credentials) and each HTTP role (a',
        '                      gateway started here on loopback) tries the allowed and forbidden actions;',
        '                      connections without valid credentials must be refused',
        '  immutability        every chain and seal verifies (domains and the audit log); seals and audit refuse',
        '                      deletes and purges in their live config; nothing unsealed longer than',
        '                      --max-unsealed-age; only operator may administer streams',
        '  audit-completeness  every event is explained by an accepted command in the audit log, by an authorised',
        '                      actor; counts per domain; the audit chains verify',
        '  retention           the live stream configs implement the retention policies; nothing past its policy',
        '                      remains outside a hold; every held event remains; every removal has its manifest,',
        '                      seal and audit record',
        "  erasure             every erasure the audit log records: the subject's key is gone, no read-model row or",
        '                      snapshot holds it, its events still verify',
        '  durability          server versions against known data-loss bugs, sync_interval, replicas, storage,',
        '                      persist mode, stream options that remove messages behind deny_purge',
        '',
        'Findings are critical, high, medium, low or info, each with evidence to re-check. Three reports are written:',
        'compliance (the findings), retention (per domain: policy, oldest event kept, holds, ranges removed with',
        'their seals) and audit (records by actor, action and outcome since the last audit report, gaps, chain',
        "heads). Each is signed with the state dir's key, chained in the ledger, and carries a checkpoint over the",
        'sealed event CIDs with a consistency proof from its previous one, also as a C2SP signed note',
        '(`cim report verify` checks them offline; `cim report vkey` prints the verifier key).',
      ].join('\n'),
    )
    .action(
      action(async (options: ComplyFlags, command: Command) => {
        const config = configFrom(command);
        const checks = selectChecks(options.check);
        const domains = await servedDomains(config);
        const trusted = trustedVerifiers(config.stateDir, options.key);
        const signer = loadOrCreateSigner(config.stateDir);
        const status = statusLine();
        const { outcomes, reportInputs } = await withCluster(config, async (cluster) => {
          const ctx = openCheckContext({
            config,
            cluster,
            domains,
            trusted,
            maxUnsealedAgeMs: options.maxUnsealedAge,
          });
          try {
            const outcomes = await runChecks(ctx, {
              only: checks.map((c) => c.name),
              onCheck: (check, outcome) => {
                if (!outcome) status.update(`comply: ${check.name}…`);
                else status.log(`${check.name}: ${summary(outcome)}`);
              },
              onProgress: (check, done, total) =>
                status.update(`comply: ${check} ${done}${total !== undefined ? `/${total}` : ''}`),
            });
            // The reports' own reads, as auditor: the sealed event CIDs the checkpoints cover (events
            // retention removed taken from its manifests), the audit period since the last audit
            // report, and each domain's retention state.
            status.update('comply: reading the sealed events for the checkpoints…');
            const nc = await ctx.connect('auditor');
            const names = domains.map((d) => d.name);
            const removed = await RemovedEvents.read(nc, names, ctx.subjects);
            const leaves = await sealedEventLeaves(nc, {
              subjects: ctx.subjects,
              trusted,
              removedEventCid: (domain, seq) => removed.removedEventCid(domain, seq),
            });
            status.update('comply: reading the audit period…');
            const ledger = Ledger.open(config.stateDir);
            const period = (() => {
              try {
                return auditPeriodStart(ledger);
              } finally {
                ledger.close();
              }
            })();
            const audit = await buildAuditReport(nc, { subjects: ctx.subjects, ...period });
            const retention = await retentionSummary(nc, config, { domains: names, subjects: ctx.subjects });
            return { outcomes, reportInputs: { leaves, audit, retention } };
          } finally {
            status.done();
            await ctx.close();
          }
        });
        const durability = outcomes.find((o) => o.check === 'durability')?.evidence as
          { servers?: Array<{ name: string; version: string | null }> } | undefined;
        const env = environment(config.stateDir);
        const written = writeComplianceReports(
          {
            compliance: { findings: outcomes.flatMap((o) => o.findings), checks: outcomes },
            retention: { domains: reportInputs.retention },
            audit: reportInputs.audit,
            leaves: reportInputs.leaves,
            clusterName: config.cluster.name,
            environment: {
              ...env,
              natsServers: (durability?.servers ?? []).map((s) => ({
                name: s.name,
                ...(s.version ? { version: s.version } : {}),
              })),
            },
            config: {
              checks: outcomes.map((o) => o.check),
              maxUnsealedAgeMs: options.maxUnsealedAge,
              domains: domains.map((d) => d.name),
              attached: config.nats.urls.length > 0,
            },
          },
          { stateDir: config.stateDir, signer },
        );
        const reports = {
          compliance: { cid: written.compliance.named.cid.toString(), files: written.compliance.files },
          retention: { cid: written.retention.named.cid.toString(), files: written.retention.files },
          audit: { cid: written.audit.named.cid.toString(), files: written.audit.files },
        };
        const ok = !failed(outcomes) && !failingFindingIn(written);
        if (options.json) {
          print(
            JSON.stringify(
              {
                ok,
                reports,
                checkpoint: { treeSize: written.treeSize, origin: written.origin, vkey: written.vkey },
                checks: outcomes,
              },
              null,
              2,
            ),
          );
        } else {
          print(renderTable(outcomes));
          for (const [kind, r] of Object.entries(reports)) print(`${kind} report: ${r.cid} (${r.files.md})`);
          print(`checkpoint: ${written.treeSize} sealed events; verifier key ${written.vkey}`);
        }
        if (!ok) process.exitCode = ExitCode.checkFailed;
      }),
    );
}

/** Whether a report found more than the checks did (a checkpoint that does not extend the last one). */
function failingFindingIn(written: WrittenComplianceReports): boolean {
  return [written.compliance, written.retention, written.audit].some((w) =>
    w.named.report.findings.some((f) => f.id.startsWith('checkpoint:') && failingSeverity(f.severity)),
  );
}

function summary(o: CheckOutcome): string {
  const counts = countBySeverity(o);
  const found = SEVERITIES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
  return found.length === 0 ? 'no findings' : found.join(', ');
}

/** The table of checks, then every finding above info with its id. */
export function renderTable(outcomes: readonly CheckOutcome[]): string {
  const rows = [['CHECK', ...SEVERITIES.map((s) => s.toUpperCase()), 'EXAMINED']];
  for (const o of outcomes) {
    const counts = countBySeverity(o);
    rows.push([
      o.check,
      ...SEVERITIES.map((s) => String(counts[s])),
      Object.entries(o.examined)
        .map(([k, v]) => `${v} ${k}`)
        .join(', '),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  const serious = outcomes.flatMap((o) => o.findings).filter((f) => f.severity !== 'info');
  if (serious.length > 0) {
    lines.push('', 'findings:');
    for (const f of serious)
      lines.push(`  ${f.severity.padEnd(8)} ${printable(f.id)}`, `           ${printable(f.message)}`);
  }
  const verdict = failed(outcomes) ? 'FAILED: critical or high findings' : 'passed: no critical or high finding';
  lines.push('', `comply ${verdict}`);
  return lines.join('\n');
}
