// The published JSON Schemas (docs/architecture.md#published-json-schemas): generated from the zod
// schemas the code validates with, printed by `cim report schema NAME` and committed under
// reports/schema/ (`npm run schemas` writes them; a unit test fails when they fall behind).
import { reportJsonSchema } from '../reports/index.js';
import { benchResultsJsonSchema } from '../scenarios/index.js';

export const PUBLISHED_SCHEMAS = {
  results: { file: 'bench-results.schema.json', generate: benchResultsJsonSchema },
  report: { file: 'report.schema.json', generate: reportJsonSchema },
} as const;

export type SchemaName = keyof typeof PUBLISHED_SCHEMAS;
export const SCHEMA_NAMES = Object.keys(PUBLISHED_SCHEMAS) as SchemaName[];

/** The schema as the committed file holds it: 2-space JSON and a final newline. */
export function schemaText(name: SchemaName): string {
  return `${JSON.stringify(PUBLISHED_SCHEMAS[name].generate(), null, 2)}\n`;
}
