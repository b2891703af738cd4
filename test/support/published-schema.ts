// Checks a file the CLI wrote against the committed JSON Schema users validate it with
// (reports/schema/, draft 2020-12, with Ajv): e2e tests call it on the results of real runs, so a
// field the code starts writing fails here until the schema names it.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { PUBLISHED_SCHEMAS, type SchemaName } from '../../cli/schemas.js';

const validators = new Map<SchemaName, ValidateFunction>();

/** Ajv's validator (draft 2020-12) of the committed schema `name`, compiled once. */
export function publishedSchemaValidator(name: SchemaName): ValidateFunction {
  let validate = validators.get(name);
  if (!validate) {
    const url = new URL(`../../reports/schema/${PUBLISHED_SCHEMAS[name].file}`, import.meta.url);
    validate = new Ajv2020({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(url, 'utf8')) as object);
    validators.set(name, validate);
  }
  return validate;
}

/** Asserts `value` is valid against the published schema `name`, naming the first errors when not. */
export function expectValidAgainstSchema(name: SchemaName, value: unknown): void {
  const validate = publishedSchemaValidator(name);
  const valid = validate(value);
  expect(valid ? [] : (validate.errors ?? []).slice(0, 5), `${name} against reports/schema/`).toEqual([]);
}
