// `cim keys`: the HTTP gateway's API keys. `add` prints a new key once and stores only its hash;
// `list` shows ids, roles and actors; `remove` revokes one. A running gateway sees the change
// within seconds (it looks at the file again), without a restart.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, Option } from 'commander';
import {
  addApiKey,
  CimError,
  readKeyFile,
  removeApiKey,
  printable,
  ROLES,
  toCimError,
  type ApplianceConfig,
  type Role,
} from '../appliance/index.js';
import { alignedTable } from '../reports/index.js';
import { cliActor, cliAuditWriter } from './audit.js';
import { withCluster } from './with-cluster.js';
import { action, configFrom, log, print } from './wiring.js';

/**
 * Runs a key change with its audit record first: the record (`apikey.add|remove`, target
 * `apikey/<id>`, actor `cli:<os user>`, role operator) must be stored before the file changes, so
 * no change goes unaudited; with the cluster unreachable nothing changes. Should the file change
 * then fail, a second record says so.
 */
async function auditedKeyChange<T>(
  config: ApplianceConfig,
  verb: 'add' | 'remove',
  change: (record: (id: string) => Promise<void>) => Promise<T>,
): Promise<T> {
  return withCluster(config, async (cluster) => {
    const audit = await cliAuditWriter(config, cluster);
    const base = { actor: cliActor(), role: 'operator', source: 'cli' as const, action: `apikey.${verb}` };
    const correlationId = randomUUID();
    let target: string | undefined;
    try {
      return await change(async (id) => {
        target = `apikey/${id}`;
        await audit.record({ ...base, target, outcome: 'ok', correlationId });
      });
    } catch (error) {
      if (target !== undefined)
        await audit
          .record({ ...base, target, outcome: 'failed', code: toCimError(error).code, correlationId })
          .catch(() => {});
      throw error;
    }
  });
}

const AUDIT_HELP =
  '\nEvery change is recorded in the audit log first (`cim audit tail --action apikey`); when the cluster is\n' +
  'unreachable, the verb refuses with CIM-UNAVAILABLE and changes nothing.';

/** The key file of this configuration: `http.apiKeysFile`, else the state dir's. */
export function apiKeysFile(config: ApplianceConfig): string {
  return config.http.apiKeysFile ?? join(config.stateDir, 'api-keys.json');
}

export function registerKeysCommands(program: Command): void {
  const keys = program
    .command('keys')
    .description(
      'API keys of the HTTP gateway (`cim serve --http`): each a bearer token with a role and an actor;\n' +
        `the key file (http.apiKeysFile, default <state>/api-keys.json, mode 0600) holds only their hashes`,
    );

  keys
    .command('add')
    .description('make a new key and print it once (stdout); only its scrypt hash is stored')
    .addOption(
      new Option('--role <role>', 'operator: everything; writer: commands; reader and auditor: queries')
        .choices(ROLES)
        .makeOptionMandatory(),
    )
    .requiredOption('--actor <name>', "who the key speaks for: the actor of the key's commands (audit)")
    .addHelpText('after', AUDIT_HELP)
    .action(
      action(async (options: { role: Role; actor: string }, command: Command) => {
        const config = configFrom(command);
        const path = apiKeysFile(config);
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        if (existsSync(path)) readKeyFile(path); // a key file it cannot use is refused before anything is recorded
        const { token, entry } = await auditedKeyChange(config, 'add', (record) =>
          addApiKey(path, options.role, options.actor, (e) => record(e.id)),
        );
        log(`added key ${entry.id} (${entry.role}, actor ${entry.actor}) to ${path}; it is shown once, keep it secret`);
        print(token);
      }),
    );

  keys
    .command('list')
    .description('list the keys: id, role, actor, created (never a secret)')
    .option('--json', 'print as JSON')
    .action(
      action(async (options: { json?: boolean }, command: Command) => {
        const rows = readKeyFile(apiKeysFile(configFrom(command))).map(({ id, role, actor, created }) => ({
          id,
          role,
          actor,
          created: created ?? null,
        }));
        if (options.json) return print(JSON.stringify(rows, null, 2));
        if (rows.length === 0) return log('no keys: add one with `cim keys add --role writer --actor NAME`');
        print(
          alignedTable(
            [
              ['id', 'role', 'actor', 'created'],
              ...rows.map((r) => [r.id, r.role, printable(r.actor), r.created ?? '']),
            ],
            ['left', 'left', 'left', 'left'],
          ),
        );
      }),
    );

  keys
    .command('remove')
    .description('revoke a key by its id (the part after `cim_` in the key)')
    .argument('<id>', 'the key id, as `cim keys list` shows it')
    .addHelpText('after', AUDIT_HELP)
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const config = configFrom(command);
        const path = apiKeysFile(config);
        const notFound = () =>
          new CimError('CIM-NOT-FOUND', `${path} has no key ${JSON.stringify(id)}`, {
            hint: '`cim keys list` shows the ids.',
          });
        // Nothing to change, nothing to record.
        if (!readKeyFile(path).some((e) => e.id === id)) throw notFound();
        await auditedKeyChange(config, 'remove', async (record) => {
          await record(id);
          if (!removeApiKey(path, id)) throw notFound();
        });
        log(`removed key ${id} from ${path}`);
      }),
    );
}
