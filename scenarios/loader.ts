// Reads scenario files: YAML parsed with positions, validated by the schema, every problem reported
// at once as `file:line:col path: message`, so a user fixes a file in one pass. Also resolves what
// `cim bench` / `cim scenario` are given (a file, a catalog scenario, or a suite) to scenarios.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isNode, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { CimError, domainStream, printable, type Domain } from '../appliance/index.js';
import { scenarioFileSchema, type KnownNames } from './schema.js';
import type { Scenario } from './types.js';

/** One problem in a scenario file, where it is. Lines and columns count from 1; `path` is like `phases[1].rate`. */
export interface ScenarioIssue {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

/** Invalid scenario file(s): CIM-INVALID-INPUT whose message lists every issue, one a line. */
export class ScenarioError extends CimError {
  readonly issues: readonly ScenarioIssue[];

  constructor(issues: readonly ScenarioIssue[]) {
    super('CIM-INVALID-INPUT', issues.map(formatIssue).join('\n'), {
      hint: 'Fix each place named above (file:line:column, then the key); `cim scenario validate FILE` checks a file without running it.',
    });
    this.issues = issues;
  }
}

export function formatIssue(issue: ScenarioIssue): string {
  return printable(`${issue.file}:${issue.line}:${issue.col} ${issue.path || '(file)'}: ${issue.message}`);
}

export interface LoadOptions {
  /** When given, mix commands, projections (and streams) must be among these. */
  known?: KnownNames;
}

export interface ParseOptions extends LoadOptions {
  /** Names the source in issues and becomes `Scenario.file`. */
  file?: string;
}

/** The names the given domains serve: their commands, projections and streams. */
export function knownNames(domains: readonly Domain<unknown>[]): KnownNames {
  return {
    commands: new Set(domains.flatMap((d) => d.commandTypes.map((type) => `${d.name}.${type}`))),
    projections: new Set(domains.flatMap((d) => (d.definition.projections ?? []).map((p) => p.name))),
    streams: new Set(domains.map((d) => domainStream(d.name))),
  };
}

/** `['phases', 1, 'rate']` → `phases[1].rate`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`)).join('');
}

const INPUT_LABEL = '<input>';

/** Parses and validates one scenario; throws ScenarioError listing every issue. */
export function parseScenario(text: string, options: ParseOptions = {}): Scenario {
  const result = checkScenario(text, options);
  if ('issues' in result) throw new ScenarioError(result.issues);
  return result.scenario;
}

/** Like parseScenario, but returns the issues instead of throwing (for `validate` over many files). */
export function checkScenario(
  text: string,
  options: ParseOptions = {},
): { scenario: Scenario } | { issues: ScenarioIssue[] } {
  const file = options.file ?? INPUT_LABEL;
  const { doc, lineCounter } = parseYaml(text);
  const at = (offset: number, path: string, message: string): ScenarioIssue => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col, path, message };
  };

  if (doc.errors.length > 0) {
    return { issues: doc.errors.map((error) => at(error.pos[0], '', `YAML syntax: ${error.message.split('\n')[0]}`)) };
  }
  if (doc.contents === null) {
    return { issues: [at(0, '', 'the file is empty; expected a mapping with name, description, phases')] };
  }

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (error) {
    // yaml refuses a document whose aliases would expand beyond the limit (a "billion laughs").
    return { issues: [at(0, '', `YAML: ${(error as Error).message.split('\n')[0]} (at most ${MAX_ALIASES} aliases)`)] };
  }
  const result = schemaFor(options.known).safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.flatMap((issue) => locate(doc, issue, at));
    issues.sort((a, b) => a.line - b.line || a.col - b.col);
    return { issues };
  }
  const scenario = result.data;
  if (options.file !== undefined) scenario.file = options.file;
  return { scenario };
}

function parseYaml(text: string): { doc: Document; lineCounter: LineCounter } {
  const lineCounter = new LineCounter();
  return { doc: parseDocument(text, { lineCounter, prettyErrors: false }), lineCounter };
}

const plainSchema = scenarioFileSchema();
const schemas = new WeakMap<KnownNames, ReturnType<typeof scenarioFileSchema>>();

/** Building the schema costs more than parsing a file, so one is kept per set of known names. */
function schemaFor(known: KnownNames | undefined): ReturnType<typeof scenarioFileSchema> {
  if (!known) return plainSchema;
  let schema = schemas.get(known);
  if (!schema) schemas.set(known, (schema = scenarioFileSchema(known)));
  return schema;
}

type At = (offset: number, path: string, message: string) => ScenarioIssue;

/** Maps a zod issue to its place in the YAML: the offending node, a missing key's parent mapping, an unknown key itself. */
function locate(doc: Document, issue: z.core.$ZodIssue, at: At): ScenarioIssue[] {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const parent = doc.getIn(path, true);
    return issue.keys.map((key) => {
      const pair = isMap(parent)
        ? parent.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === key)
        : undefined;
      const offset = pair && isNode(pair.key) ? pair.key.range![0] : nodeStart(doc, path);
      return at(offset, formatPath([...path, key]), `unknown key "${key}"; ${issue.message}`);
    });
  }
  const present = path.length === 0 || doc.hasIn(path);
  const message = present || issue.code === 'custom' ? issue.message : `missing: ${issue.message}`;
  return [at(nodeStart(doc, path), formatPath(path), message)];
}

/**
 * Where the node at `path` starts, or its nearest present ancestor. A scalar is pointed at itself;
 * a list or mapping under a key at its key, since a block collection starts on the next line.
 */
function nodeStart(doc: Document, path: readonly PropertyKey[]): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (!isNode(node) || !node.range) continue;
    if (isScalar(node) || depth === 0) return node.range[0];
    const parent = depth === 1 ? doc.contents : doc.getIn(path.slice(0, depth - 1), true);
    const key = path[depth - 1];
    const pair = isMap(parent) ? parent.items.find((item) => isScalar(item.key) && item.key.value === key) : undefined;
    return pair && isNode(pair.key) && pair.key.range ? pair.key.range[0] : node.range[0];
  }
  return 0;
}

/** Scenario files are a page or two; a file past this is not one, and parsing it would cost gigabytes. */
export const MAX_SCENARIO_BYTES = 1024 * 1024;
const MAX_ALIASES = 100;

/** A scenario file's text: CIM-NOT-FOUND when missing, CIM-INVALID-INPUT when unreadable or too large. */
export function readScenarioText(path: string): string {
  try {
    const size = statSync(path).size;
    if (size > MAX_SCENARIO_BYTES) {
      throw new CimError(
        'CIM-INVALID-INPUT',
        `scenario file ${path}: ${size} bytes, more than the ${MAX_SCENARIO_BYTES} a scenario file may have`,
      );
    }
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof CimError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new CimError(
      code === 'ENOENT' ? 'CIM-NOT-FOUND' : 'CIM-INVALID-INPUT',
      `scenario file ${path}: cannot be read (${code ?? 'error'})`,
      {
        hint: 'Check the path; `cim scenario list` shows the shipped scenarios.',
      },
    );
  }
}

/** Loads one scenario file; `Scenario.file` is the path as given. */
export function loadScenarioFile(path: string, options: LoadOptions = {}): Scenario {
  return parseScenario(readScenarioText(path), { ...options, file: path });
}

/** The scenario files of a directory (`*.yaml`, `*.yml`), sorted by file name. */
export function catalogFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new CimError(
      'CIM-NOT-FOUND',
      `scenario catalog ${dir}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  return names
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => join(dir, name));
}

/**
 * Loads every scenario file of a directory, sorted by file name. Names must be unique across the
 * files; every issue of every file is reported in one ScenarioError.
 */
export function loadCatalog(dir: string, options: LoadOptions = {}): Scenario[] {
  const scenarios: Scenario[] = [];
  const issues: ScenarioIssue[] = [];
  const byName = new Map<string, Scenario>();
  for (const file of catalogFiles(dir)) {
    const text = readScenarioText(file);
    const result = checkScenario(text, { ...options, file });
    if ('issues' in result) {
      issues.push(...result.issues);
      continue;
    }
    const earlier = byName.get(result.scenario.name);
    if (earlier) {
      const { doc, lineCounter } = parseYaml(text);
      const { line, col } = lineCounter.linePos(nodeStart(doc, ['name']));
      issues.push({
        file,
        line,
        col,
        path: 'name',
        message: `scenario name "${result.scenario.name}" is already used by ${earlier.file}`,
      });
      continue;
    }
    byName.set(result.scenario.name, result.scenario);
    scenarios.push(result.scenario);
  }
  if (issues.length > 0) throw new ScenarioError(issues);
  return scenarios;
}

/**
 * The shipped catalog, `scenarios/catalog` of the package: found from this module's location
 * (`scenarios/` under vitest, `dist/scenarios/` when built) by walking up to the package root.
 */
export function defaultCatalogDir(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  for (;;) {
    const candidate = join(dir, 'scenarios', 'catalog');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new CimError('CIM-NOT-FOUND', `no scenarios/catalog found above ${dirname(fileURLToPath(from))}`, {
        hint: 'The package is installed without its scenario catalog; name scenario files by path instead.',
      });
    }
    dir = parent;
  }
}

export interface FindOptions extends LoadOptions {
  /** Where catalog names and suites are looked up (default: the shipped catalog). */
  catalogDir?: string;
}

/**
 * Resolves each ref, in order, to scenarios: an existing file path, else a catalog scenario's name,
 * else a suite (every catalog scenario in it). A scenario named twice is returned once.
 */
export function findScenarios(refs: readonly string[], options: FindOptions = {}): Scenario[] {
  let catalog: Scenario[] | undefined;
  const getCatalog = (): Scenario[] => (catalog ??= loadCatalog(options.catalogDir ?? defaultCatalogDir(), options));
  const found: Scenario[] = [];
  const seen = new Set<string>();
  const add = (scenario: Scenario): void => {
    const key = `${scenario.file ?? ''}\0${scenario.name}`;
    if (seen.has(key)) return;
    seen.add(key);
    found.push(scenario);
  };

  for (const ref of refs) {
    if (existsSync(ref) && statSync(ref).isFile()) {
      add(loadScenarioFile(ref, options));
      continue;
    }
    const scenarios = getCatalog();
    const named = scenarios.find((s) => s.name === ref);
    if (named) {
      add(named);
      continue;
    }
    const suite = scenarios.filter((s) => s.suites.includes(ref));
    if (suite.length > 0) {
      suite.forEach(add);
      continue;
    }
    const suites = [...new Set(scenarios.flatMap((s) => s.suites))].sort();
    throw new CimError('CIM-NOT-FOUND', `no scenario file, scenario or suite "${ref}"`, {
      hint: `Scenarios: ${scenarios.map((s) => s.name).join(', ')}. Suites: ${suites.join(', ')}. Or give the path of a scenario file.`,
    });
  }
  return found;
}
