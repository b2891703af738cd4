// `cim report list | show | verify | vkey | render | schema | diff`: the ledger from the command line.
import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import {
  CimError,
  ExitCode,
  loadStateVerifier,
  PUBLIC_KEY_FILE,
  trustedVerifiers,
  Verifier,
} from '../appliance/index.js';
import {
  checkpointOrigin,
  diffMetrics,
  loadReport,
  parseVerifierKey,
  render,
  RENDER_FORMATS,
  renderFiles,
  verifyReport,
  verifierKey,
  withLedger,
  type RenderFormat,
  type ReportKind,
} from '../reports/index.js';
import { checkOutputFile, writeOutputFile } from './output-file.js';
import { SCHEMA_NAMES, schemaText, type SchemaName } from './schemas.js';
import { action, configFrom, print } from './wiring.js';

const KINDS: ReportKind[] = ['performance', 'compliance', 'retention', 'audit'];

export function registerReportCommands(program: Command): void {
  const report = program
    .command('report')
    .description('the report ledger: list, show, verify, render and compare reports')
    .exitOverride();

  report
    .command('list')
    .description('reports in the ledger, newest first')
    .addOption(new Option('--kind <kind>', 'only reports of this kind').choices(KINDS))
    .addOption(new Option('--limit <n>', 'at most this many').argParser((v) => Number.parseInt(v, 10)))
    .option('--json', 'print as JSON')
    .action(
      action(async (options: { kind?: ReportKind; limit?: number; json?: boolean }, command: Command) => {
        const { stateDir } = configFrom(command);
        const entries = withLedger(
          stateDir,
          (ledger) =>
            ledger.list({
              ...(options.kind ? { kind: options.kind } : {}),
              ...(options.limit ? { limit: options.limit } : {}),
            }),
          { readOnly: true },
        );
        const rows = entries.map((e) => ({
          cid: e.cid,
          kind: e.kind,
          createdAt: e.createdAt,
          title: e.title,
          prev: e.prev,
        }));
        if (options.json) return print(JSON.stringify(rows, null, 2));
        // A filter that matches nothing is not an empty ledger.
        if (rows.length === 0)
          return print(
            options.kind
              ? `no ${options.kind} reports in ${stateDir}/ledger.sqlite`
              : `no reports yet in ${stateDir}/ledger.sqlite (cim bench writes one)`,
          );
        print(rows.map((r) => `${r.cid}  ${r.kind.padEnd(11)}  ${r.createdAt}  ${r.title}`).join('\n'));
      }),
    );

  report
    .command('show')
    .argument(
      '<ref>',
      'a CID (or a unique prefix of 8+ characters), latest, latest:<kind> (latest-any[:<kind>] includes interrupted runs), baseline:<name>, or a .cbor file',
    )
    .description('a report as Markdown (what a CI summary shows), or as JSON')
    .option('--json', 'print the JSON rendering')
    .action(
      action(async (ref: string, options: { json?: boolean }, command: Command) => {
        const { stateDir } = configFrom(command);
        const named = withLedger(stateDir, (ledger) => loadReport(ledger, ref), { readOnly: true });
        print(render(named, options.json ? 'json' : 'md'));
      }),
    );

  report
    .command('verify')
    .argument('<ref>', 'a ledger reference or a .cbor file')
    .description(
      "recompute the CID from the bytes, check the signature against trusted keys (the state dir's and --key),\n" +
        'every file against a fresh rendering, the prev chain, checkpoint consistency proofs and the signed checkpoint\n' +
        'note; offline (no NATS); exit 1 naming what does not hold',
    )
    .option(
      '--key <key...>',
      "a trusted Ed25519 public key besides the state dir's own: a PEM file, or a verifier key <name>+<key ID>+<key>\n" +
        '(the checkpoint notes must then be signed by it)',
    )
    .option('--json', 'print the verification as JSON')
    .action(
      action(async (ref: string, options: { key?: string[]; json?: boolean }, command: Command) => {
        const { stateDir } = configFrom(command);
        // A verifier key is `name+hex+base64`; anything else (or a file of that name) is a PEM file.
        const isVkey = (k: string) => /^[^+\s]+\+[0-9a-f]{8}\+/.test(k) && !existsSync(k);
        const vkeys = (options.key ?? []).filter(isVkey).map(parseVerifierKey);
        const trusted = [
          ...trustedVerifiers(
            stateDir,
            (options.key ?? []).filter((k) => !isVkey(k)),
          ),
          ...vkeys.map((k) => Verifier.fromPem(k.publicKey.export({ type: 'spki', format: 'pem' }), k.name)),
        ];
        const result = withLedger(
          stateDir,
          (ledger) =>
            verifyReport(ref, {
              stateDir,
              ledger,
              trusted,
              render: renderFiles,
              ...(vkeys.length > 0 ? { noteKeys: vkeys } : {}),
            }),
          { readOnly: true },
        );
        if (options.json) print(JSON.stringify(result, null, 2));
        else if (result.ok)
          print(`ok: report ${result.cid} verifies\n${result.checked.map((c) => `  ✓ ${c}`).join('\n')}`);
        else print(`FAILED: report ${result.cid}\n${result.problems.map((p) => `  ✗ ${p}`).join('\n')}`);
        if (!result.ok) process.exitCode = ExitCode.checkFailed;
      }),
    );

  report
    .command('vkey')
    .description(
      "the verifier key of the compliance reports' signed checkpoint notes (C2SP signed-note):\n" +
        "<origin>+<key ID>+<key>, from the state dir's public key and the cluster name",
    )
    .action(
      action(async (_options: unknown, command: Command) => {
        const config = configFrom(command);
        const verifier = loadStateVerifier(config.stateDir);
        if (!verifier)
          throw new CimError(
            'CIM-NOT-FOUND',
            `${config.stateDir}/keys/${PUBLIC_KEY_FILE} does not exist: nothing was signed here yet`,
          );
        const pem = verifier.publicKey().export({ type: 'spki', format: 'pem' }).toString();
        print(verifierKey(checkpointOrigin(config.cluster.name), pem));
      }),
    );

  report
    .command('render')
    .argument('<ref>', 'a ledger reference or a .cbor file')
    .description(
      'render a report: json (machines), md (CI summaries), html (a self-contained page), junit (gates), ' +
        'bmf (Bencher Metric Format, for tracking figures over time)',
    )
    .addOption(new Option('--format <format>', 'the rendering').choices(RENDER_FORMATS).default('html'))
    .option('--out <file>', 'write it to this file instead of printing it (an existing one only with --force)')
    .option('--force', 'replace the --out file when it exists')
    .action(
      action(
        async (ref: string, options: { format: RenderFormat; out?: string; force?: boolean }, command: Command) => {
          const { stateDir } = configFrom(command);
          if (options.out) checkOutputFile(options.out, '--out', { force: options.force === true });
          const text = render(
            withLedger(stateDir, (ledger) => loadReport(ledger, ref), { readOnly: true }),
            options.format,
          );
          if (options.out) {
            writeOutputFile(options.out, text, '--out', { force: options.force === true });
            print(options.out);
          } else print(text);
        },
      ),
    );

  report
    .command('schema')
    .argument('<name>', `which: ${SCHEMA_NAMES.join(', ')}`)
    .description(
      'print a published JSON Schema (draft 2020-12): results (`cim bench --out` files, a performance ' +
        "report's results), report (a report's JSON rendering); the same as reports/schema/ in the source",
    )
    .option('--out <file>', 'write it to this file instead of printing it (an existing one only with --force)')
    .option('--force', 'replace the --out file when it exists')
    .action(
      action(async (name: string, options: { out?: string; force?: boolean }) => {
        if (!(SCHEMA_NAMES as string[]).includes(name))
          throw new CimError('CIM-INVALID-INPUT', `no schema named ${name}: one of ${SCHEMA_NAMES.join(', ')}`);
        const text = schemaText(name as SchemaName);
        if (!options.out) return print(text.trimEnd());
        writeOutputFile(options.out, text, '--out', { force: options.force === true });
        print(options.out);
      }),
    );

  report
    .command('diff')
    .argument('<a>', 'the earlier report')
    .argument('<b>', 'the later report')
    .description(
      'compare the headline figures of two performance reports, scenario by scenario (no statistics: cim gate tests significance)',
    )
    .option('--json', 'print as JSON')
    .action(
      action(async (a: string, b: string, options: { json?: boolean }, command: Command) => {
        const { stateDir } = configFrom(command);
        const [left, right] = withLedger(stateDir, (ledger) => [loadReport(ledger, a), loadReport(ledger, b)], {
          readOnly: true,
        });
        const rows = diffMetrics(left!, right!);
        if (options.json)
          return print(JSON.stringify({ a: left!.cid.toString(), b: right!.cid.toString(), rows }, null, 2));
        print(
          [
            `a ${left!.cid.toString()} (${left!.report.createdAt})`,
            `b ${right!.cid.toString()} (${right!.report.createdAt})`,
            '',
          ]
            .concat(
              rows.map(
                (r) =>
                  `${r.scenario.padEnd(22)} ${r.metric.padEnd(22)} ${fmt(r.a).padStart(12)} ${fmt(r.b).padStart(12)} ${r.change === null ? '' : `${r.change >= 0 ? '+' : ''}${(r.change * 100).toFixed(1)} %`}`,
              ),
            )
            .join('\n'),
        );
      }),
    );
}

const fmt = (n: number | null) =>
  n === null ? '–' : Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3);
