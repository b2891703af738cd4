// `cim bench` without the command line: runs scenarios one after another, each on its own
// cluster, and collects their results with the environment they were measured in. Ctrl-C (the
// signal) stops the scenario in progress cleanly; what was measured until then is kept.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cachedNatscliPath,
  EmbeddedCluster,
  isCimError,
  NATSCLI_VERSION,
  requireNetworkNamespaces,
  type ApplianceConfig,
  type HostAccess,
  type Verifier,
} from '../appliance/index.js';
import { RESULTS_VERSION, type BenchResults, type Environment } from './results.js';
import { runScenario, type ScenarioProgress } from './runner.js';
import type { Scenario } from './types.js';

export interface BenchRunOptions {
  scenarios: readonly Scenario[];
  config: ApplianceConfig;
  /** Raw baseline messages per scenario. */
  baselineMessages: number;
  keepData?: boolean;
  /** Seal keys verification accepts besides each run's own (see RunOptions.trusted). */
  trusted?: readonly Verifier[];
  log?: (line: string) => void;
  onProgress?: (progress: ScenarioProgress) => void;
  /** Called when a scenario starts, with its position in the run. */
  onScenario?: (scenario: Scenario, index: number, total: number) => void;
  signal?: AbortSignal;
  /**
   * A version matrix: the same scenarios, same seeds, once per nats-server (a supported version or
   * a path), each on its own fresh cluster; each result is named `<scenario>@<server>`.
   */
  servers?: readonly string[];
  /**
   * Runs per scenario, each with its own seed derived from the scenario's and on a fresh cluster;
   * absent: each scenario's own `seeds` (default 1). Results of a scenario run more than once are
   * named `<scenario>#<n>` (`<scenario>#<n>@<server>` in a version matrix).
   */
  seeds?: number;
  /** The host partition scenarios are checked against (root, Linux); default: this one. Tests inject it. */
  host?: HostAccess;
  /**
   * Repetitions of the whole run (`cim bench --repeat`): every scenario again with the same seed,
   * each on a fresh cluster, repetition 1 of every scenario first, then repetition 2, … — so drift on
   * the machine falls on all of them alike. Results keep their names and say their `repetition`.
   */
  repeat?: number;
}

/** `quick-steady@2.12.1`: a scenario's result in a version matrix. */
export function matrixName(scenario: string, server: string): string {
  return `${scenario}@${server}`;
}

/** `durability-bit-flips#3`: the n-th run (from 1) of a scenario run with several seeds. */
export function seedRunName(scenario: string, n: number): string {
  return `${scenario}#${n}`;
}

/**
 * The seed of a scenario's n-th run (from 1): the first is the scenario's own, so one run is the
 * run the file describes; the others are spread over 32 bits (an odd multiplier, so n ↦ seed is
 * one-to-one and no two runs of a scenario share a seed).
 */
export function derivedSeed(seed: number, n: number): number {
  return n === 1 ? seed : (seed + Math.imul(n - 1, 0x9e3779b1)) >>> 0;
}

/** One run of a bench: the scenario as run (name and seed of its seed run and server), its server, and its repetition (with `repeat`). */
export interface BenchRun {
  scenario: Scenario;
  server: string | undefined;
  repetition?: number;
}

/** Every run of a bench in order: per server, per repetition, per scenario, per seed. */
export function benchRuns(
  scenarios: readonly Scenario[],
  servers: readonly string[] | undefined,
  seeds?: number,
  repeat = 1,
): BenchRun[] {
  return (servers ?? [undefined]).flatMap((server) =>
    Array.from({ length: repeat }, (_, r) => r + 1).flatMap((repetition) =>
      seedRuns(scenarios, server, seeds).map((run) => (repeat > 1 ? { ...run, repetition } : run)),
    ),
  );
}

function seedRuns(scenarios: readonly Scenario[], server: string | undefined, seeds: number | undefined): BenchRun[] {
  return scenarios.flatMap((scenario) => {
    const runs = seeds ?? scenario.seeds ?? 1;
    return Array.from({ length: runs }, (_, i) => {
      const named = runs === 1 ? scenario.name : seedRunName(scenario.name, i + 1);
      return {
        scenario: {
          ...scenario,
          name: server === undefined ? named : matrixName(named, server),
          seed: derivedSeed(scenario.seed, i + 1),
        },
        server,
      };
    });
  });
}

/** `20261125T190102Z-a1b2`: sortable, and unique enough for one state dir. */
export function newRunId(now = new Date()): string {
  return `${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${randomBytes(2).toString('hex')}`;
}

export async function runBench(options: BenchRunOptions): Promise<BenchResults> {
  // Refused before anything runs, rather than after the scenarios before it. (On an attached
  // cluster partition scenarios are skipped like every node fault.)
  const partitioned = options.scenarios.filter((s) =>
    s.phases.some((p) => p.type === 'fault' && p.action === 'partition'),
  );
  if (partitioned.length > 0 && options.config.nats.urls.length === 0)
    requireNetworkNamespaces(
      `scenario ${partitioned.map((s) => s.name).join(', ')} (a network partition)`,
      options.host,
    );
  await reclaimCrashedRuns(options.config.stateDir, options.log ?? (() => {}));
  const runId = newRunId();
  const runDir = join(options.config.stateDir, 'bench', runId);
  mkdirSync(runDir, { recursive: true });
  const results: BenchResults = {
    v: RESULTS_VERSION,
    kind: 'performance-results',
    runId,
    createdAt: new Date().toISOString(),
    environment: environment(options.config.stateDir),
    scenarios: [],
    interrupted: false,
  };
  const runs = benchRuns(options.scenarios, options.servers, options.seeds, options.repeat).map((run) => ({
    ...run,
    config: run.server === undefined ? options.config : { ...options.config, natsServer: run.server },
  }));
  if (options.servers) results.servers = [...options.servers];
  for (const [index, { scenario, config, server, repetition }] of runs.entries()) {
    if (options.signal?.aborted) break;
    options.onScenario?.(scenario, index, runs.length);
    results.scenarios.push({
      ...(await runScenario(scenario, {
        config,
        runDir,
        baselineMessages: options.baselineMessages,
        ...(options.keepData ? { keepData: true } : {}),
        ...(options.trusted ? { trusted: options.trusted } : {}),
        ...(options.log ? { log: options.log } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(repetition !== undefined ? { repetition } : {}),
      })),
      ...(server === undefined ? {} : { server }),
    });
  }
  results.interrupted = options.signal?.aborted ?? false;
  return results;
}

/**
 * Stops the nats-servers of earlier runs that crashed (kill -9, power loss) before stopping their
 * scenario clusters; their pid files in `<state>/bench/<run>/<scenario>/cluster` say which. A run
 * still going in another process keeps its servers.
 */
async function reclaimCrashedRuns(stateDir: string, log: (line: string) => void): Promise<void> {
  const root = join(stateDir, 'bench');
  const list = (dir: string) =>
    existsSync(dir)
      ? readdirSync(dir, { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => join(dir, e.name))
      : [];
  for (const run of list(root)) {
    for (const scenarioDir of list(run)) {
      if (!existsSync(join(scenarioDir, 'cluster'))) continue;
      try {
        await EmbeddedCluster.reclaimOrphans(scenarioDir, log);
      } catch (error) {
        if (!isCimError(error)) throw error;
        // In use by a live run: not ours to stop.
      }
    }
  }
}

/** The package's root and version: package.json is one level up from scenarios/ (vitest), two from dist/scenarios/. */
const applianceRoot = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [join(here, '..'), join(here, '..', '..')]) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'cim-appliance') return { dir, version: `${pkg.name}@${pkg.version}` };
    } catch {
      // not here
    }
  }
  return { dir: here, version: 'cim-appliance' };
})();

/** The version of an installed package, read from its package.json. */
function packageVersion(name: string): string | undefined {
  for (const dir of [join(applianceRoot.dir, 'node_modules', name), join(applianceRoot.dir, '..', name)]) {
    try {
      return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Where a run was measured: machine, kernel, the file system of the stores, client and tool versions. */
export function environment(stateDir = '.', env: NodeJS.ProcessEnv = process.env): Environment {
  const cpuList = cpus();
  const environment: Environment = {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: { model: cpuList[0]?.model.trim() ?? 'unknown', cores: cpuList.length },
    memoryBytes: totalmem(),
    appliance: applianceRoot.version,
    kernel: release(),
  };
  const git = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: applianceRoot.dir, encoding: 'utf8', timeout: 5_000 });
  if (git.status === 0 && /^[0-9a-f]{40}$/.test(git.stdout.trim())) environment.gitRevision = git.stdout.trim();
  const natsJs = packageVersion('nats');
  if (natsJs) environment.natsJs = natsJs;
  if (existsSync(cachedNatscliPath(NATSCLI_VERSION, env))) environment.natscli = NATSCLI_VERSION;
  mkdirSync(stateDir, { recursive: true });
  const fs = spawnSync('stat', ['-f', '-c', '%T', stateDir], { encoding: 'utf8', timeout: 5_000 });
  if (fs.status === 0 && fs.stdout.trim()) environment.storeFileSystem = fs.stdout.trim();
  return environment;
}
