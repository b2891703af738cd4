// `cim seal`: seal now what is not yet sealed in each domain stream, as `cim serve`'s sealers do on
// their own every N events or T seconds.
import type { Command } from 'commander';
import { AUDIT_LOG, listDomains, loadOrCreateSigner, Sealer } from '../appliance/index.js';
import { cliAuditWriter, recordAdmin } from './audit.js';
import { withCluster } from './with-cluster.js';
import { action, configFrom, log, print } from './wiring.js';

export function registerSealCommand(program: Command): void {
  program
    .command('seal')
    .description(
      'seal what is not yet sealed in each domain stream and the audit log now (cim serve does this every N events\n' +
        'or T seconds); recorded in the audit log as admin.seal',
    )
    .option('--domain <name...>', 'seal only these domains (default: every domain stream found, and the audit log)')
    .option('--json', 'print the seals as JSON')
    .action(
      action(async (options: { domain?: string[]; json?: boolean }, command: Command) => {
        const config = configFrom(command);
        const signer = loadOrCreateSigner(config.stateDir);
        await withCluster(config, async (cluster) => {
          const nc = await cluster.connect('service', 'cim-seal');
          const audit = await cliAuditWriter(config, cluster);
          const domains = options.domain ?? [...(await listDomains(nc)), AUDIT_LOG];
          const sealed: { domain: string; cid: string; fromSeq: number; toSeq: number; count: number }[] = [];
          await recordAdmin(audit, 'seal', `seal/${domains.join(',')}`, async () => {
            for (const domain of domains) {
              const named = await (await Sealer.open(nc, { domain, signer })).sealOnce();
              if (named)
                sealed.push({
                  domain,
                  cid: named.cid.toString(),
                  fromSeq: named.seal.fromSeq,
                  toSeq: named.seal.toSeq,
                  count: named.seal.count,
                });
              else log(`${domain}: nothing to seal`);
            }
          });
          if (options.json) print(JSON.stringify({ signer: signer.keyId, seals: sealed }, null, 2));
          else
            for (const s of sealed)
              print(`${s.domain}: sealed seq ${s.fromSeq}..${s.toSeq} (${s.count} events) as ${s.cid}`);
        });
      }),
    );
}
