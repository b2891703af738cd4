// `cim servers list | install`: the supported nats-server releases and the cache they are built
// into from Go modules (docs/servers.md). `install` with no version makes sure the server the
// embedded cluster would use is there — the README's commands call it first.
import type { Command } from 'commander';
import {
  cachedNatscliPath,
  DEFAULT_SERVER_VERSION,
  findGo,
  findNatsServer,
  installNatscli,
  installServer,
  listServers,
  NATSCLI_VERSION,
  printedVersion,
  resolveServerVersion,
} from '../appliance/index.js';
import { action, configFrom, log, print } from './wiring.js';

export function registerServersCommand(program: Command): void {
  const servers = program
    .command('servers')
    .description(
      `the supported nats-server releases, built from Go modules into $XDG_CACHE_HOME/cim (default ${DEFAULT_SERVER_VERSION})`,
    )
    .exitOverride();

  servers
    .command('list')
    .description('each supported version, its role in the matrix, and whether the cache holds a working build')
    .option('--json', 'print the list as JSON')
    .action(
      action(async (options: { json?: boolean }) => {
        const env = process.env;
        const list = await listServers(env);
        const natscliPath = cachedNatscliPath(NATSCLI_VERSION, env);
        const natscli = (await printedVersion(natscliPath)) === NATSCLI_VERSION ? natscliPath : undefined;
        if (options.json) {
          print(
            JSON.stringify(
              {
                default: DEFAULT_SERVER_VERSION,
                servers: list,
                natscli: { version: NATSCLI_VERSION, path: natscli ?? null },
                go: findGo(env) ?? null,
              },
              null,
              2,
            ),
          );
          return;
        }
        const width = Math.max(...list.map((s) => s.version.length));
        for (const s of list)
          print(`${s.version.padEnd(width)}  ${s.path ? `installed  ${s.path}` : 'not built '}  ${s.role}`);
        print(
          `natscli ${NATSCLI_VERSION}: ${natscli ? `installed  ${natscli}` : 'not built'} (its \`nats bench\` is the peer benchmark)`,
        );
        const go = findGo(env);
        print(
          go
            ? `Go: ${go} — \`cim servers install [VERSION…]\` builds what is missing`
            : 'Go: not found — without it the embedded cluster uses nats-server from PATH (Debian: apt-get install nats-server)',
        );
      }),
    );

  servers
    .command('install')
    .argument(
      '[version...]',
      `versions to build (e.g. 2.12.1, 2.14.x, all); default: the server the embedded cluster will use`,
    )
    .option('--natscli', `also build natscli ${NATSCLI_VERSION} (nats bench)`)
    .description('build supported versions into the cache (reused when present, rebuilt when broken), with progress')
    .action(
      action(async (versions: string[], options: { natscli?: boolean }, command: Command) => {
        const env = process.env;
        if (versions.length === 0) {
          // The same resolution the embedded cluster makes: --nats-server, NATS_SERVER_BIN, the default, PATH.
          const binary = await findNatsServer(env, { choice: configFrom(command).natsServer, log });
          print(`nats-server ${binary.version} (${binary.source}): ${binary.path}`);
        } else {
          const wanted = versions.includes('all')
            ? (await listServers(env)).map((s) => s.version)
            : versions.map((v) => resolveServerVersion(v).version);
          for (const version of wanted) {
            const result = await installServer(version, env, log);
            print(`nats-server ${result.version}: ${result.path}${result.built ? ' (built)' : ' (cached)'}`);
          }
        }
        if (options.natscli) {
          const result = await installNatscli(env, log);
          print(`natscli ${result.version}: ${result.path}${result.built ? ' (built)' : ' (cached)'}`);
        }
      }),
    );
}
