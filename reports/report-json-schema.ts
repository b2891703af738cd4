// A report's JSON rendering (`cim report render --format json`, the `.json` beside each `.cbor`)
// as a zod schema, the source of the published JSON Schema (`reports/schema/report.schema.json`,
// `cim report schema report`). It describes the JSON form of reports/document.ts's ReportSchema:
// every CID as its string, every byte string as base64, plus `cid`, the name of the body. A
// performance report's `results` are bench results, published on their own
// (bench-results.schema.json): this module may not import scenarios/, so `results` is any value here.
import { z } from 'zod';
import { REPORT_VERSION, SEVERITY_ORDER, type Severity } from './types.js';

const cid = z
  .string()
  .regex(/^b[a-z2-7]+$/, 'a CIDv1 in base32')
  .describe('a CID, as its base32 string');
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'standard base64');
const record = z.record(z.string(), z.unknown());

export const ReportJsonSchema = z
  .strictObject({
    v: z.literal(REPORT_VERSION),
    kind: z.enum(['performance', 'compliance', 'retention', 'audit']),
    title: z.string().min(1),
    createdAt: z.string().min(1),
    environment: record,
    config: record,
    scenario: z.array(z.string()).optional(),
    results: z
      .unknown()
      .describe("the report's figures; for kind performance, bench results (bench-results.schema.json)"),
    findings: z.array(
      z.strictObject({
        id: z.string(),
        check: z.string().optional(),
        severity: z.enum(SEVERITY_ORDER as [Severity, ...Severity[]]),
        message: z.string(),
        evidence: z.unknown().optional(),
      }),
    ),
    baseline: z
      .strictObject({
        cid,
        comparisons: z.array(record),
        regressed: z.boolean(),
        commonScenarios: z.array(z.string()).optional(),
        allowMissing: z.boolean().optional(),
      })
      .optional(),
    checkpoint: z
      .strictObject({
        treeSize: z.number().int().min(0),
        root: base64,
        previous: z.strictObject({ treeSize: z.number().int().min(1), root: base64 }).optional(),
        consistencyProof: z.array(base64).optional(),
        note: z.string().optional(),
      })
      .optional(),
    prev: cid.nullable(),
    signer: z.string().min(1),
    signature: base64,
    cid: cid.describe('the CID of the canonical dag-cbor body without its signature: the name the signature covers'),
  })
  .meta({
    title: 'CIM Appliance report (JSON rendering)',
    description:
      'A signed, content-addressed report as `cim report render --format json` writes it (docs/architecture.md#published-json-schemas).',
  });

/** The published JSON Schema (draft 2020-12) of a report's JSON rendering. */
export function reportJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ReportJsonSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
}
