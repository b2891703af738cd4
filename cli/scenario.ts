// `cim scenario list | show | validate | run`: scenario files — the shipped catalog, what a scenario
// does, schema checks with file:line:column, and runs as `cim bench` makes them.
import { Command, Option } from 'commander';
import { ExitCode } from '../appliance/index.js';
import {
  checkScenario,
  defaultCatalogDir,
  findScenarios,
  formatIssue,
  loadCatalog,
  readScenarioText,
  renderScenario,
  renderScenarioList,
  type ScenarioIssue,
} from '../scenarios/index.js';
import { scenarioBench, type ScenarioBenchOptions } from './bench.js';
import { action, positiveInteger, print, servedNames } from './wiring.js';

export function registerScenarioCommands(program: Command): void {
  const scenario = program
    .command('scenario')
    .description('work with scenario files: list the catalog, show, validate, run')
    .exitOverride();
  scenario
    .command('list')
    .description('the shipped catalog (scenarios/catalog): names, suites, cluster size, expected duration, phases')
    .option('--json', 'print the parsed scenarios as JSON')
    .action(
      action(async (options: { json?: boolean }, command: Command) => {
        const scenarios = loadCatalog(defaultCatalogDir(), { known: await servedNames(command) });
        print(options.json ? JSON.stringify(scenarios, null, 2) : renderScenarioList(scenarios));
      }),
    );
  scenario
    .command('show')
    .argument('<scenario...>', 'scenario files, catalog names or suite names')
    .description('what a scenario does: its cluster, each phase with its timing, the checks and what they measure')
    .option('--json', 'print the parsed scenarios as JSON')
    .action(
      action(async (refs: string[], options: { json?: boolean }, command: Command) => {
        const scenarios = findScenarios(refs, { known: await servedNames(command) });
        print(options.json ? JSON.stringify(scenarios, null, 2) : scenarios.map(renderScenario).join('\n\n'));
      }),
    );
  scenario
    .command('validate')
    .argument('<file...>', 'scenario files (YAML)')
    .description(
      'check scenario files against the schema and the served domains; every problem is named by file:line:column and field; exit 2 if any',
    )
    .option('--json', 'print the problems as JSON')
    .action(
      action(async (files: string[], options: { json?: boolean }, command: Command) => {
        const known = await servedNames(command);
        const report: { file: string; ok: boolean; scenario?: string; issues: ScenarioIssue[] }[] = [];
        for (const file of files) {
          const text = readScenarioText(file);
          const checked = checkScenario(text, { file, known });
          report.push(
            'scenario' in checked
              ? { file, ok: true, scenario: checked.scenario.name, issues: [] }
              : { file, ok: false, issues: checked.issues },
          );
        }
        if (options.json) print(JSON.stringify(report, null, 2));
        else
          for (const r of report)
            print(
              r.ok
                ? `ok   ${r.file} (${r.scenario})`
                : `FAIL ${r.file}\n${r.issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`,
            );
        if (report.some((r) => !r.ok)) process.exitCode = ExitCode.usage;
      }),
    );
  scenario
    .command('run')
    .argument('<scenario...>', 'scenario files, catalog names or suite names')
    .description('run scenarios as cim bench does (see cim bench --help), without the default suite')
    .addOption(
      new Option('--baseline-messages <n>', 'messages of the raw baseline per scenario')
        .default(20_000)
        .argParser(positiveInteger('--baseline-messages')),
    )
    .option(
      '--out <file>',
      'also write the results JSON to this file (the signed report in <state>/reports/ is written either way)',
    )
    .option('--keep-data', "keep each scenario's cluster data and read models")
    .option('--json', 'print the results as JSON')
    .action(
      action(async (refs: string[], options: ScenarioBenchOptions, command: Command) =>
        scenarioBench(refs, options, command),
      ),
    );
}
