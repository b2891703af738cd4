// `cim retention apply [--dry-run] [--json]`: applies the configured retention policies once, as
// `cim serve` does on its schedule (docs/architecture.md#retention-and-legal-holds): removes what a
// policy expires and no legal hold covers, only inside sealed ranges, each removal written to a
// manifest and audited before the messages are deleted — as the `retention` NATS role.
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import {
  applyRetention,
  AuditWriter,
  CimError,
  provision,
  RETENTION_STREAM,
  trustedVerifiers,
  type RetentionApplied,
} from '../appliance/index.js';
import { cliActor } from './audit.js';
import { withCluster } from './with-cluster.js';
import { action, configFrom, print, servedDomains } from './wiring.js';

function render(applied: RetentionApplied): string {
  if (applied.domains.length === 0) return 'no retention policies (config retention.policies): nothing to do';
  const lines = applied.domains.map((d) => {
    const policy = [
      d.policy.maxAge !== undefined ? `maxAge ${d.policy.maxAge}` : undefined,
      d.policy.maxEventsPerAggregate !== undefined
        ? `maxEventsPerAggregate ${d.policy.maxEventsPerAggregate}`
        : undefined,
    ]
      .filter(Boolean)
      .join(', ');
    const verb = applied.dryRun ? 'would remove' : 'removed';
    return (
      `${d.domain} (${policy}): ${d.examined} events examined, ${d.expired} expired; ${verb} ${d.removed}` +
      (d.completed > 0 ? ` and ${d.completed} left by an earlier run` : '') +
      `; kept ${d.held} under a hold, ${d.unsealed} not sealed yet` +
      d.manifests
        .map((m) => `\n  seq ${m.fromSeq}..${m.toSeq}: ${m.count} under seal ${m.seal}, manifest ${m.manifest}`)
        .join('')
    );
  });
  return lines.join('\n');
}

export function registerRetentionCommands(program: Command): void {
  const retention = program
    .command('retention')
    .description('retention policies (config retention.policies) and their removals');

  retention
    .command('apply')
    .description(
      'apply the retention policies once (cim serve does it every retention.applyEvery): remove the events a\n' +
        'policy expires that no legal hold covers and a seal already covers; each removal is written to a manifest\n' +
        'in CIM_RETENTION and audited (retention.remove) before the messages are deleted',
    )
    .option('--dry-run', 'say what would be removed; change nothing')
    .option(
      '--key <file...>',
      "trusted Ed25519 public key (PEM) of seal signatures; the state dir's own key is always trusted; only what a seal of a trusted key covers is removed",
    )
    .option('--json', 'print the result as JSON')
    .action(
      action(async (options: { dryRun?: boolean; json?: boolean; key?: string[] }, command: Command) => {
        const config = configFrom(command);
        const policies = config.retention.policies;
        const served = (await servedDomains(config)).map((d) => d.name);
        const unknown = Object.keys(policies).filter((d) => !served.includes(d));
        if (unknown.length > 0)
          throw new CimError(
            'CIM-INVALID-CONFIG',
            `retention.policies: ${unknown.join(', ')} not served (${served.join(', ')})`,
          );
        const applied = await withCluster(config, async (cluster) => {
          if (!options.dryRun && Object.keys(policies).length > 0) {
            // The manifest stream and the audit log must be there: provisioned as operator, as cim serve does.
            const admin = await cluster.connect('operator', 'cim-retention-provision');
            const jsm = await admin.jetstreamManager();
            if (
              !(await jsm.streams.info(RETENTION_STREAM).then(
                () => true,
                () => false,
              ))
            )
              await provision(admin, {
                domains: served,
                replicas: Math.min(3, cluster.nodeCount),
                duplicateWindowMs: 120_000,
              });
            await admin.close();
          }
          const nc = await cluster.connect('retention', 'cim-retention');
          const audit = options.dryRun ? undefined : await AuditWriter.open(nc, { name: 'cli-retention' });
          try {
            return await applyRetention(nc, {
              policies,
              dryRun: options.dryRun ?? false,
              ...(audit ? { audit } : {}),
              actor: cliActor(),
              source: 'cli',
              correlationId: randomUUID(),
              trusted: trustedVerifiers(config.stateDir, options.key),
            });
          } finally {
            await audit?.flush();
          }
        });
        print(options.json ? JSON.stringify(applied, null, 2) : render(applied));
      }),
    );
}
