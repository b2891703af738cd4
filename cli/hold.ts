// `cim hold add|remove|list`: legal holds on an aggregate or a data subject
// (docs/architecture.md#retention-and-legal-holds). A held aggregate's events are never removed by
// retention, and a held subject is not erased. Each change is audited (`hold.add`, `hold.remove`,
// the target an id; the reason stays in the hold bucket, never in the audit log).
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import {
  aggregateTarget,
  CimError,
  holdName,
  HoldStore,
  printable,
  subjectTarget,
  toCimError,
  type ApplianceConfig,
  type Hold,
  type HoldTarget,
} from '../appliance/index.js';
import { cliActor, cliAuditWriter } from './audit.js';
import { withCluster } from './with-cluster.js';
import { action, configFrom, print } from './wiring.js';

interface TargetOptions {
  aggregate?: string;
  subject?: string;
  actor?: string;
}

function targetOf(options: TargetOptions): HoldTarget {
  if ((options.aggregate === undefined) === (options.subject === undefined))
    throw new CimError('CIM-INVALID-INPUT', 'name what to hold: exactly one of --aggregate DOMAIN/ID or --subject ID');
  return options.aggregate !== undefined ? aggregateTarget(options.aggregate) : subjectTarget(options.subject!);
}

/** The change, its audit record first (as `cim keys` does): no hold changes unaudited; a failure after it is recorded too. */
async function auditedHoldChange<T>(
  config: ApplianceConfig,
  verb: 'add' | 'remove',
  target: HoldTarget,
  actor: string,
  change: (store: HoldStore) => Promise<T>,
  /** A reason to refuse before anything changes (recorded as `rejected` with its code). */
  refuse?: (store: HoldStore) => Promise<CimError | undefined>,
): Promise<T> {
  return withCluster(config, async (cluster) => {
    const audit = await cliAuditWriter(config, cluster);
    const nc = await cluster.connect('operator', `cim-hold-${verb}`);
    const store = (await HoldStore.open(nc, { create: { replicas: Math.min(3, cluster.nodeCount) } }))!;
    const base = {
      actor,
      role: 'operator',
      source: 'cli' as const,
      action: `hold.${verb}`,
      target: holdName(target),
      correlationId: randomUUID(),
    };
    const refusal = await refuse?.(store);
    if (refusal) {
      await audit.record({ ...base, outcome: 'rejected', code: refusal.code });
      throw refusal;
    }
    await audit.record({ ...base, outcome: 'ok' });
    try {
      return await change(store);
    } catch (error) {
      await audit.record({ ...base, outcome: 'failed', code: toCimError(error).code }).catch(() => {});
      throw error;
    }
  });
}

const TARGET_HELP =
  '\nA subject hold covers every aggregate of that id in every domain (a subject id is the aggregate id of the\n' +
  'events holding its personal data, e.g. a personId). Every change is recorded in the audit log first.';

export function registerHoldCommands(program: Command): void {
  const hold = program
    .command('hold')
    .description('legal holds: what retention never removes and erasure refuses (GDPR Art. 17(3)(e))');

  hold
    .command('add')
    .description('place a legal hold on an aggregate or a data subject')
    .option('--aggregate <domain/id>', 'hold one aggregate, e.g. person/P1')
    .option('--subject <id>', 'hold a data subject: its aggregates in every domain, and no erasure')
    .requiredOption('--reason <text>', 'why (a case or order number); kept with the hold, not in the audit log')
    .option('--actor <name>', 'who places it (default: the login name)')
    .addHelpText('after', TARGET_HELP)
    .action(
      action(async (options: TargetOptions & { reason: string }, command: Command) => {
        const config = configFrom(command);
        const target = targetOf(options);
        if (options.reason.trim() === '')
          throw new CimError('CIM-INVALID-INPUT', '--reason: say why the hold is placed');
        const placed: Hold = {
          target,
          reason: options.reason,
          placedBy: options.actor ?? cliActor(),
          at: new Date().toISOString(),
        };
        await auditedHoldChange(config, 'add', target, placed.placedBy, (store) => store.add(placed));
        print(`held ${holdName(target)}`);
      }),
    );

  hold
    .command('remove')
    .description('lift a legal hold')
    .option('--aggregate <domain/id>', 'the held aggregate, e.g. person/P1')
    .option('--subject <id>', 'the held data subject')
    .option('--actor <name>', 'who lifts it (default: the login name)')
    .addHelpText('after', TARGET_HELP)
    .action(
      action(async (options: TargetOptions, command: Command) => {
        const config = configFrom(command);
        const target = targetOf(options);
        await auditedHoldChange(
          config,
          'remove',
          target,
          options.actor ?? cliActor(),
          (store) => store.remove(target),
          async (store) =>
            (await store.get(target))
              ? undefined
              : new CimError('CIM-NOT-FOUND', `there is no hold on ${holdName(target)}`),
        );
        print(`released ${holdName(target)}`);
      }),
    );

  hold
    .command('list')
    .description('the holds in force')
    .option('--json', 'print them as JSON')
    .action(
      action(async (options: { json?: boolean }, command: Command) => {
        const config = configFrom(command);
        const holds = await withCluster(config, async (cluster) => {
          const store = await HoldStore.open(await cluster.connect('auditor', 'cim-hold-list'));
          return store ? store.list() : [];
        });
        if (options.json) return print(JSON.stringify(holds, null, 2));
        if (holds.length === 0) return print('no holds');
        print(
          holds
            .map((h) => `${holdName(h.target)}\t${printable(h.placedBy)}\t${h.at}\t${printable(h.reason)}`)
            .join('\n'),
        );
      }),
    );
}
