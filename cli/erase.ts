// `cim erase SUBJECT_ID`: erasure by crypto-shredding (docs/architecture.md#erasure-crypto-shredding).
// Destroys the subject's key in the state dir's key store, deletes its read-model rows and its
// snapshots, and scrubs the files; the events stay as they are, their personal data unreadable.
// A running `cim serve` on the same state dir stops decrypting the subject at once.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  CimError,
  eraseSubject,
  erasureHoldOf,
  keyStorePath,
  personalDataOf,
  ReadModel,
  SubjectKeyStore,
  type Eraser,
  type ErasureRequest,
} from '../appliance/index.js';
import { cliAuditWriter } from './audit.js';
import { withCluster } from './with-cluster.js';
import { action, configFrom, print, servedDomains } from './wiring.js';

export function registerEraseCommand(program: Command): void {
  program
    .command('erase')
    .description(
      "erase a data subject's personal data: destroy its key (the events stay, their personal data unreadable),\n" +
        'delete its read-model rows and snapshots; idempotent (an erased subject is erased again without harm)',
    )
    .argument('<subject-id>', 'the aggregate id of the events holding its personal data, e.g. a personId')
    .option('--actor <name>', 'who asks for the erasure, as the audit log records it (default: the login name)')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (subjectId: string, options: { actor?: string; json?: boolean }, command: Command) => {
        const config = configFrom(command);
        const dir = config.privacy.keyStoreDir;
        if (!existsSync(keyStorePath(config.stateDir, dir)))
          throw new CimError(
            'CIM-NOT-FOUND',
            `no subject key store in ${config.stateDir}: no personal data was stored here`,
            {
              hint: 'Run cim erase with the --state of the appliance that stored it (cim serve).',
            },
          );
        const domains = await servedDomains(config);
        const keys = SubjectKeyStore.open(config.stateDir, dir ? { dir } : {});
        const modelPath = join(config.stateDir, 'read-models.sqlite');
        const projections = domains.flatMap((d) => d.definition.projections ?? []);
        const readModel = existsSync(modelPath) ? ReadModel.open({ path: modelPath, projections }) : undefined;
        const request: ErasureRequest = {
          subjectId,
          actor: options.actor ?? userInfo().username,
          role: 'operator',
          source: 'cli',
          correlationId: randomUUID(),
        };
        const eraser: Eraser = {
          keys,
          domains: [...personalDataOf(domains).keys()],
          ...(readModel ? { readModel } : {}),
        };
        try {
          // Connected before anything is checked, so that a refusal (a subject never known) is on record too.
          const result = await withCluster(config, async (cluster) => {
            const audit = await cliAuditWriter(config, cluster);
            const nc = await cluster.connect('operator', 'cim-erase');
            return eraseSubject({ ...eraser, nc, audit, legalHold: erasureHoldOf(nc) }, request);
          });
          if (options.json) return print(JSON.stringify(result, null, 2));
          print(
            `${result.outcome === 'erased' ? 'erased' : 'already erased'} subject ${subjectId}: key destroyed, ` +
              `${result.rowsDeleted} read-model rows and ${result.snapshotsDeleted.length} snapshots deleted`,
          );
        } finally {
          readModel?.close();
          keys.close();
        }
      }),
    );
}
