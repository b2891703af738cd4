// The published JSON Schemas: the committed files under reports/schema/ are what the zod schemas
// generate now (`npm run schemas` after a change), a JSON Schema validator (Ajv, draft 2020-12)
// accepts real bench results and a report's JSON rendering with them, and refuses what the files
// never hold (a field nobody writes, a verdict that does not exist, a CID that is not one). The
// types stay the code's contract: whatever the code may write is assignable to the schema's type.
import type { ErrorObject } from 'ajv/dist/2020.js';
import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { PUBLISHED_SCHEMAS, SCHEMA_NAMES, schemaText } from '../../cli/schemas.js';
import { renderJson, type NamedReport } from '../../reports/index.js';
import { BenchResultsSchema, type BenchResults } from '../../scenarios/index.js';
import { benchResultsFixture, performanceReport } from '../fixtures/performance-report.js';
import { publishedSchemaValidator } from '../support/published-schema.js';

const committed = (file: string) => readFileSync(new URL(`../../reports/schema/${file}`, import.meta.url), 'utf8');
const validateResults = publishedSchemaValidator('results');
const validateReport = publishedSchemaValidator('report');
const errorsOf = (validate: typeof validateResults, value: unknown) => (validate(value) ? [] : validate.errors);

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;

describe('the published JSON Schemas', () => {
  it('are committed as the zod schemas generate them (run `npm run schemas` after changing one)', () => {
    for (const name of SCHEMA_NAMES) expect(committed(PUBLISHED_SCHEMAS[name].file), name).toBe(schemaText(name));
  });

  it('describe every field bench results may hold: the type is assignable to the schema’s', () => {
    expectTypeOf<BenchResults>().toExtend<z.infer<typeof BenchResultsSchema>>();
  });

  it('accept the results of real quick-suite runs', () => {
    for (const file of ['bench-results-quick.json', 'bench-results-quick-steady.json'])
      expect(errorsOf(validateResults, fixture(file)), file).toEqual([]);
  });

  it('refuse a field nobody writes, a verdict that does not exist and a phase of no known type', () => {
    const extra = benchResultsFixture();
    extra.scenarios[0]!.fastestEver = true;
    expect(validateResults(extra)).toBe(false);
    expect(validateResults.errors!.map((e: ErrorObject) => e.keyword)).toContain('additionalProperties');

    const status = benchResultsFixture();
    status.scenarios[0]!.status = 'excellent';
    expect(validateResults(status)).toBe(false);

    const phase = benchResultsFixture();
    (phase.scenarios[0]!.phases as { type: string }[])[0]!.type = 'dance';
    expect(validateResults(phase)).toBe(false);
  });

  it("accept a report's JSON rendering, with and without a baseline and a checkpoint, and its results as bench results", async () => {
    const plain = JSON.parse(renderJson(await performanceReport())) as Record<string, unknown>;
    expect(errorsOf(validateReport, plain)).toEqual([]);
    expect(errorsOf(validateResults, plain.results)).toEqual([]);

    const gated = await performanceReport({ withBaseline: true });
    const checkpointed: NamedReport = {
      ...gated,
      report: {
        ...gated.report,
        kind: 'compliance',
        checkpoint: {
          treeSize: 3,
          root: new Uint8Array(32).fill(7),
          previous: { treeSize: 2, root: new Uint8Array(32).fill(1) },
          consistencyProof: [new Uint8Array(32).fill(2)],
          note: 'cim-appliance/test\n3\nBwcH\n',
        },
      },
    };
    expect(errorsOf(validateReport, JSON.parse(renderJson(checkpointed)))).toEqual([]);
  });

  it('refuse a report whose CID is not one, or whose signature is not base64', async () => {
    const json = JSON.parse(renderJson(await performanceReport())) as Record<string, unknown>;
    expect(validateReport({ ...json, cid: 'not a cid' })).toBe(false);
    expect(validateReport({ ...json, signature: 'no base64!' })).toBe(false);
    expect(validateReport({ ...json, kind: 'gossip' })).toBe(false);
  });

  it('are the zod schemas the code validates with: the same verdicts as Ajv on the same input', () => {
    const good = benchResultsFixture();
    const bad = benchResultsFixture();
    bad.scenarios[0]!.seconds = 'slow';
    expect(BenchResultsSchema.safeParse(good).success).toBe(validateResults(good));
    expect(BenchResultsSchema.safeParse(bad).success).toBe(false);
    expect(validateResults(bad)).toBe(false);
  });
});
