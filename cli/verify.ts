// `cim verify`: every event chain, every seal and the unsealed tail of the domain streams (and of
// the audit log), and
// that every stream the appliance must have exists with its seal history whole; exit 1 with
// findings that name stream, sequence and CIDs. `--snapshots` also checks every snapshot;
// `--replicas` reads every replica of those streams from its own server and names each divergence.
import type { Command } from 'commander';
import {
  assertDomain,
  CimError,
  compareWithWatermark,
  domainStream,
  expectedStreams,
  ExitCode,
  listDomains,
  missingDomain,
  AUDIT_STREAM,
  readReplicas,
  readWatermarks,
  renderReplicaComparison,
  renderSnapshotVerification,
  RETENTION_STREAM,
  SEALS_STREAM,
  renderVerification,
  trustedVerifiers,
  verifyDomain,
  verifySnapshots,
  watermarksFile,
  writeWatermarks,
  type DomainVerification,
  type ReplicaComparison,
  type Watermarks,
} from '../appliance/index.js';
import { verifyAuditLog } from './audit.js';
import { withCluster, type OpenCluster } from './with-cluster.js';
import { action, configFrom, log, print, servedDomains } from './wiring.js';

interface VerifyFlags {
  domain?: string[];
  key?: string[];
  snapshots?: boolean;
  replicas?: boolean;
  json?: boolean;
}

/**
 * Every replica of the streams, each read from its own server's block files (the embedded
 * cluster's nodes stopped one at a time and started again); an attached cluster's files are not
 * on this machine, so its replicas are unreadable, and the result says so.
 */
async function compareReplicaCopies(cluster: OpenCluster, streams: string[]): Promise<ReplicaComparison> {
  if (!cluster.embedded)
    return {
      streams: [],
      divergences: [],
      unreadable: cluster.servers.map((server) => ({
        server,
        stream: '*',
        reason:
          "an attached cluster's block files are not on this machine; replicas are read only on the embedded cluster",
      })),
    };
  const { comparison, stayedDown } = await readReplicas(cluster.embedded, streams, { log });
  for (const { server, reason } of stayedDown)
    comparison.unreadable.push({
      server,
      stream: '*',
      reason: `did not start again after its replicas were read: ${reason}`,
    });
  return comparison;
}

export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description(
      'verify every event chain (CIDs recompute, prev links, seq contiguous), every seal (Merkle root,\n' +
        'signature, seal chain) and the tail past the last seal, and that the streams the appliance must have\n' +
        '(served and sealed domains, the seal stream) exist and hold no less than an earlier verification saw;\n' +
        'and the audit log likewise (its writer chains and seals; `cim audit verify` checks it alone);\n' +
        'exit 1 with findings naming stream, sequence and CIDs',
    )
    .option('--domain <name...>', 'verify only these domains (default: every served, sealed or found domain)')
    .option(
      '--key <file...>',
      "trusted Ed25519 public key (PEM) for seal signatures; the state dir's own key is always trusted",
    )
    .option(
      '--snapshots',
      'also check every snapshot of a served domain: signed by a trusted key, and its state the fold of the chain up to the event it names',
    )
    .option(
      '--replicas',
      "also read every replica of those streams from its own server's block files (each node of the embedded\n" +
        'cluster stopped in turn and started again) and name each divergence: replica, stream, sequences missing,\n' +
        'extra or different, and which copy the seals agree with',
    )
    .option('--json', 'print the results as JSON')
    .action(
      action(async (options: VerifyFlags, command: Command) => {
        const config = configFrom(command);
        for (const domain of options.domain ?? []) assertDomain(domain);
        const trusted = trustedVerifiers(config.stateDir, options.key);
        const servedDomainList = await servedDomains(config);
        const served = servedDomainList.map((d) => d.name);
        const seenBefore = readWatermarks(config.stateDir);
        // Printed before the clean-up, so a cluster that fails to stop cannot hide the findings.
        await withCluster(config, async (cluster) => {
          const nc = await cluster.connect('auditor', 'cim-verify');
          const found = await listDomains(nc);
          const expected = await expectedStreams(nc, served, found);
          const results: DomainVerification[] = [];
          const seenNow: Watermarks = Object.create(null) as Watermarks;
          for (const domain of options.domain ?? expected.domains) {
            if (!found.includes(domain)) {
              if (!expected.missing.includes(domain))
                throw new CimError('CIM-NOT-FOUND', `domain ${domain} has no stream ${domainStream(domain)}`);
              results.push(
                missingDomain(
                  domain,
                  served.includes(domain) ? `the appliance serves ${domain}` : `${domain} has seals`,
                ),
              );
              continue;
            }
            const result = await verifyDomain(nc, domain, {
              trusted,
              onProgress: (d, seq, last) => log(`verifying ${d}: seq ${seq} of ${last}`),
            });
            seenNow[domain] = { lastSeq: result.lastSeq, seals: result.seals };
            result.findings.push(
              ...compareWithWatermark(
                domain,
                result.stream,
                seenBefore[domain],
                seenNow[domain],
                watermarksFile(config.stateDir),
              ),
            );
            results.push(result);
          }
          // The audit log, unless only some domains were asked for.
          const audit = options.domain
            ? undefined
            : await verifyAuditLog(nc, config.stateDir, trusted, seenBefore, seenNow, (d, seq, last) =>
                log(`verifying ${d}: seq ${seq} of ${last}`),
              );
          writeWatermarks(config.stateDir, seenBefore, seenNow);
          const streamFindings = options.domain ? [] : expected.findings;
          const snapshots = options.snapshots
            ? await verifySnapshots(
                nc,
                servedDomainList.filter((d) => !options.domain || options.domain.includes(d.name)),
                { trusted },
              )
            : undefined;
          // Last: it stops and restarts the nodes, one at a time, under the connection above.
          const replicas = options.replicas
            ? await compareReplicaCopies(cluster, [
                ...results.map((r) => r.stream),
                SEALS_STREAM,
                ...(audit ? [AUDIT_STREAM, RETENTION_STREAM] : []),
              ])
            : undefined;
          const findings =
            (replicas?.divergences.length ?? 0) +
            streamFindings.length +
            results.reduce((n, r) => n + r.findings.length + r.findingsOmitted, 0) +
            (audit ? audit.findings.length + audit.findingsOmitted : 0) +
            (snapshots ? snapshots.findings.length + snapshots.findingsOmitted : 0);
          if (options.json) {
            print(
              JSON.stringify(
                {
                  ok: findings === 0,
                  findings,
                  trustedKeys: trusted.map((v) => v.keyId),
                  streams: streamFindings,
                  domains: results,
                  audit: audit ?? null,
                  ...(snapshots ? { snapshots } : {}),
                  ...(replicas ? { replicas } : {}),
                },
                null,
                2,
              ),
            );
          } else {
            print(
              renderVerification(
                audit ? [...results, audit] : results,
                trusted.map((v) => v.keyId),
                streamFindings,
              ),
            );
            if (snapshots) print(renderSnapshotVerification(snapshots));
            if (replicas) print(renderReplicaComparison(replicas));
          }
          if (findings > 0) process.exitCode = ExitCode.checkFailed;
        });
      }),
    );
}
