// `cim keys`: the HTTP gateway's API keys. `add` prints a new key once and stores only its hash;
// `list` shows ids, roles and actors; `remove` revokes one. A running gateway sees the change
// within seconds (it looks at the file again), without a restart.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, Option } from 'commander';
import {
  addApiKey,
  CimError,
  readKeyFile,
  removeApiKey,
  printable,
  ROLES,
  type ApplianceConfig,
  type Role,
} from '../appliance/index.js';
import { alignedTable } from '../reports/index.js';
import { action, configFrom, log, print } from './wiring.js';

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
    .action(
      action(async (options: { role: Role; actor: string }, command: Command) => {
        const path = apiKeysFile(configFrom(command));
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        const { token, entry } = await addApiKey(path, options.role, options.actor);
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
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const path = apiKeysFile(configFrom(command));
        if (!removeApiKey(path, id))
          throw new CimError('CIM-NOT-FOUND', `${path} has no key ${JSON.stringify(id)}`, {
            hint: '`cim keys list` shows the ids.',
          });
        log(`removed key ${id} from ${path}`);
      }),
    );
}
