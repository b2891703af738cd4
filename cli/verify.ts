// `cim verify`: every event chain, every seal and the unsealed tail of the domain streams; exit 1
// with findings that name stream, sequence and CIDs.
import type { Command } from 'commander';
import { ExitCode, listDomains, renderVerification, trustedVerifiers, verifyDomain, type DomainVerification } from '../appliance/index.js';
import { withConnection } from './with-cluster.js';
import { action, configFrom, log, print } from './wiring.js';

export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description(
      'verify every event chain (CIDs recompute, prev links, seq contiguous), every seal (Merkle root,\n' +
        'signature, seal chain) and the tail past the last seal; exit 1 with findings naming stream, sequence and CIDs',
    )
    .option('--domain <name...>', 'verify only these domains (default: every domain stream found)')
    .option('--key <file...>', 'trusted Ed25519 public key (PEM) for seal signatures; the state dir\'s own key is always trusted')
    .option('--json', 'print the results as JSON')
    .action(
      action(async (options: { domain?: string[]; key?: string[]; json?: boolean }, command: Command) => {
        const config = configFrom(command);
        const trusted = trustedVerifiers(config.stateDir, options.key);
        // Printed before the clean-up, so a cluster that fails to stop cannot hide the findings.
        await withConnection(config, 'cim-verify', async (nc) => {
          const results: DomainVerification[] = [];
          for (const domain of options.domain ?? (await listDomains(nc))) {
            results.push(
              await verifyDomain(nc, domain, {
                trusted,
                onProgress: (d, seq, last) => log(`verifying ${d}: seq ${seq} of ${last}`),
              }),
            );
          }
          const findings = results.reduce((n, r) => n + r.findings.length + r.findingsOmitted, 0);
          if (options.json) {
            print(JSON.stringify({ ok: findings === 0, findings, trustedKeys: trusted.map((v) => v.keyId), domains: results }, null, 2));
          } else {
            print(renderVerification(results, trusted.map((v) => v.keyId)));
          }
          if (findings > 0) process.exitCode = ExitCode.checkFailed;
        });
      }),
    );
}
