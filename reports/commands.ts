// `cim report list | show | verify | render | diff`: the ledger from the command line.
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { CimError, ExitCode, trustedVerifiers, type CommandWiring } from '../appliance/index.js';
import { decodeReport } from './document.js';
import { writeOnce } from './files.js';
import { Ledger } from './ledger.js';
import { render, RENDER_FORMATS } from './render/index.js';
import { renderFiles } from './renderings.js';
import type { NamedReport, RenderFormat, ReportKind } from './types.js';
import { verifyReport } from './verify.js';

const KINDS: ReportKind[] = ['performance', 'compliance', 'retention', 'audit'];

/** A report by ledger reference, or from a `.cbor` file. */
export function loadReport(ledger: Ledger, ref: string): NamedReport {
  if (ref.endsWith('.cbor')) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(ref);
    } catch (error) {
      throw new CimError('CIM-NOT-FOUND', `${ref}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return decodeReport(bytes, ref);
  }
  const entry = ledger.resolve(ref);
  return decodeReport(entry.bytes, `ledger entry ${entry.cid}`);
}

export function withLedger<T>(stateDir: string, fn: (ledger: Ledger) => T): T {
  const ledger = Ledger.open(stateDir);
  try {
    return fn(ledger);
  } finally {
    ledger.close();
  }
}

export function registerReportCommands(program: Command, { configFrom, action, print }: CommandWiring): void {
  const report = program.command('report').description('the report ledger: list, show, verify, render and compare reports').exitOverride();

  report
    .command('list')
    .description('reports in the ledger, newest first')
    .addOption(new Option('--kind <kind>', 'only reports of this kind').choices(KINDS))
    .addOption(new Option('--limit <n>', 'at most this many').argParser((v) => Number.parseInt(v, 10)))
    .option('--json', 'print as JSON')
    .action(
      action(async (options: { kind?: ReportKind; limit?: number; json?: boolean }, command: Command) => {
        const { stateDir } = configFrom(command);
        const entries = withLedger(stateDir, (ledger) => ledger.list({ ...(options.kind ? { kind: options.kind } : {}), ...(options.limit ? { limit: options.limit } : {}) }));
        const rows = entries.map((e) => ({ cid: e.cid, kind: e.kind, createdAt: e.createdAt, title: e.title, prev: e.prev }));
        if (options.json) return print(JSON.stringify(rows, null, 2));
        // A filter that matches nothing is not an empty ledger.
        if (rows.length === 0) return print(options.kind ? `no ${options.kind} reports in ${stateDir}/ledger.sqlite` : `no reports yet in ${stateDir}/ledger.sqlite (cim bench writes one)`);
        print(rows.map((r) => `${r.cid}  ${r.kind.padEnd(11)}  ${r.createdAt}  ${r.title}`).join('\n'));
      }),
    );

  report
    .command('show')
    .argument('<ref>', 'a CID (or a unique prefix of 8+ characters), latest, latest:<kind>, baseline:<name>, or a .cbor file')
    .description('a report as Markdown (what a CI summary shows), or as JSON')
    .option('--json', 'print the JSON rendering')
    .action(
      action(async (ref: string, options: { json?: boolean }, command: Command) => {
        const { stateDir } = configFrom(command);
        const named = withLedger(stateDir, (ledger) => loadReport(ledger, ref));
        print(render(named, options.json ? 'json' : 'md'));
      }),
    );

  report
    .command('verify')
    .argument('<ref>', 'a ledger reference or a .cbor file')
    .description(
      'recompute the CID from the bytes, check the signature against trusted keys (the state dir\'s and --key),\n' +
        'every file against a fresh rendering, the prev chain and checkpoint consistency proofs; exit 1 naming what does not hold',
    )
    .option('--key <file...>', 'trusted Ed25519 public key (PEM) besides the state dir\'s own')
    .option('--json', 'print the verification as JSON')
    .action(
      action(async (ref: string, options: { key?: string[]; json?: boolean }, command: Command) => {
        const { stateDir } = configFrom(command);
        const trusted = trustedVerifiers(stateDir, options.key);
        const result = withLedger(stateDir, (ledger) => verifyReport(ref, { stateDir, ledger, trusted, render: renderFiles }));
        if (options.json) print(JSON.stringify(result, null, 2));
        else if (result.ok) print(`ok: report ${result.cid} verifies\n${result.checked.map((c) => `  ✓ ${c}`).join('\n')}`);
        else print(`FAILED: report ${result.cid}\n${result.problems.map((p) => `  ✗ ${p}`).join('\n')}`);
        if (!result.ok) process.exitCode = ExitCode.checkFailed;
      }),
    );

  report
    .command('render')
    .argument('<ref>', 'a ledger reference or a .cbor file')
    .description('render a report: json (machines), md (CI summaries), html (a self-contained page), junit (gates)')
    .addOption(new Option('--format <format>', 'the rendering').choices(RENDER_FORMATS).default('html'))
    .option('--out <file>', 'write it to this file (never replacing one) instead of printing it')
    .action(
      action(async (ref: string, options: { format: RenderFormat; out?: string }, command: Command) => {
        const { stateDir } = configFrom(command);
        const text = render(
          withLedger(stateDir, (ledger) => loadReport(ledger, ref)),
          options.format,
        );
        if (options.out) {
          writeOnce(options.out, text);
          print(options.out);
        } else print(text);
      }),
    );

  report
    .command('diff')
    .argument('<a>', 'the earlier report')
    .argument('<b>', 'the later report')
    .description('compare the headline figures of two performance reports, scenario by scenario (no statistics: cim gate tests significance)')
    .option('--json', 'print as JSON')
    .action(
      action(async (a: string, b: string, options: { json?: boolean }, command: Command) => {
        const { stateDir } = configFrom(command);
        const [left, right] = withLedger(stateDir, (ledger) => [loadReport(ledger, a), loadReport(ledger, b)]);
        const rows = diffMetrics(left!, right!);
        if (options.json) return print(JSON.stringify({ a: left!.cid.toString(), b: right!.cid.toString(), rows }, null, 2));
        print(
          [`a ${left!.cid.toString()} (${left!.report.createdAt})`, `b ${right!.cid.toString()} (${right!.report.createdAt})`, '']
            .concat(rows.map((r) => `${r.scenario.padEnd(22)} ${r.metric.padEnd(22)} ${fmt(r.a).padStart(12)} ${fmt(r.b).padStart(12)} ${r.change === null ? '' : `${r.change >= 0 ? '+' : ''}${(r.change * 100).toFixed(1)} %`}`))
            .join('\n'),
        );
      }),
    );
}

const fmt = (n: number | null) => (n === null ? '–' : Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3));

interface DiffRow {
  scenario: string;
  metric: string;
  a: number | null;
  b: number | null;
  /** (b − a) / a, or null when either is missing or a is 0. */
  change: number | null;
}

/** The scenario-wide metrics two performance reports share (and those only one has). */
export function diffMetrics(a: NamedReport, b: NamedReport): DiffRow[] {
  const metricsOf = (named: NamedReport) => {
    const scenarios = (named.report.results as { scenarios?: { scenario?: string; metrics?: Record<string, number> }[] } | null)?.scenarios ?? [];
    return new Map(scenarios.map((s) => [s.scenario ?? '?', s.metrics ?? {}]));
  };
  const left = metricsOf(a);
  const right = metricsOf(b);
  const rows: DiffRow[] = [];
  for (const scenario of [...new Set([...left.keys(), ...right.keys()])].sort()) {
    const l = left.get(scenario) ?? {};
    const r = right.get(scenario) ?? {};
    for (const metric of [...new Set([...Object.keys(l), ...Object.keys(r)])].filter((m) => !m.includes('.')).sort()) {
      const x = l[metric] ?? null;
      const y = r[metric] ?? null;
      rows.push({ scenario, metric, a: x, b: y, change: x !== null && y !== null && x !== 0 ? (y - x) / x : null });
    }
  }
  return rows;
}
