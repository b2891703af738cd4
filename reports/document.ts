// A report as bytes: canonical dag-cbor, named by the CID of the encoding without its signature,
// signed with Ed25519 over that CID (the event store's seals use the same scheme). Decoding
// validates the shape and recomputes the name, so a report read back is the report that was signed.
import * as dagCbor from '@ipld/dag-cbor';
import { z } from 'zod';
import { CID, CimError, cidOfBlock, firstIssue, type Signer, type Verifier } from '../appliance/index.js';
import {
  REPORT_VERSION,
  SEVERITY_ORDER,
  type NamedReport,
  type Report,
  type ReportBody,
  type Severity,
} from './types.js';

const bytes = z.custom<Uint8Array>((value) => value instanceof Uint8Array, { error: 'expected bytes' });
const cid = z.custom<CID>((value) => CID.asCID(value) !== null, { error: 'expected a CID' });

const ReportSchema = z
  .object({
    v: z.literal(REPORT_VERSION),
    kind: z.enum(['performance', 'compliance', 'retention', 'audit']),
    title: z.string().min(1),
    createdAt: z.string().min(1),
    environment: z.record(z.string(), z.unknown()),
    config: z.record(z.string(), z.unknown()),
    scenario: z.array(z.string()).optional(),
    results: z.unknown(),
    findings: z.array(
      z
        .object({
          id: z.string(),
          check: z.string().optional(),
          severity: z.enum(SEVERITY_ORDER as [Severity, ...Severity[]]),
          message: z.string(),
          evidence: z.unknown().optional(),
        })
        .strict(),
    ),
    baseline: z
      .object({
        cid,
        comparisons: z.array(z.record(z.string(), z.unknown())),
        regressed: z.boolean(),
        commonScenarios: z.array(z.string()).optional(),
        allowMissing: z.boolean().optional(),
      })
      .strict()
      .optional(),
    checkpoint: z
      .object({
        treeSize: z.number().int().min(0),
        root: bytes,
        previous: z
          .object({ treeSize: z.number().int().min(1), root: bytes })
          .strict()
          .optional(),
        consistencyProof: z.array(bytes).optional(),
        note: z.string().optional(),
      })
      .strict()
      .optional(),
    prev: cid.nullable(),
    signer: z.string().min(1),
    signature: bytes,
  })
  .strict();

/**
 * Plain data only: what JSON can say (no undefined, no NaN), so every report encodes as canonical
 * dag-cbor and renders as JSON without loss. Measurements arrive as objects with optional fields.
 */
export function plainData<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The body of a report: everything but the signature, with keys of undefined value left out. */
function bodyOf(report: ReportBody | Report): ReportBody {
  const { signature: _signature, ...body } = report as Report;
  void _signature;
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as unknown as ReportBody;
}

/** The CID that names a report: of the dag-cbor encoding of its body (a signature is ignored if present). */
export function reportCid(report: ReportBody | Report): CID {
  return cidOfBlock(dagCbor.encode(bodyOf(report)));
}

/** Signs a body (its `signer` is set to the signing key's id) and names it. */
export function signReport(body: Omit<ReportBody, 'signer'>, signer: Signer): NamedReport {
  const complete = bodyOf({ ...body, signer: signer.keyId } as ReportBody);
  const name = reportCid(complete);
  return { report: { ...complete, signature: signer.sign(name.bytes) }, cid: name };
}

/** The bytes of the `.cbor` file: the whole report, signature included. */
export function encodeReport(report: Report): Uint8Array {
  return dagCbor.encode({ ...bodyOf(report), signature: report.signature });
}

/** Decodes a report's bytes; CIM-INVALID-INPUT names what is wrong. Its CID is recomputed, not trusted. */
export function decodeReport(data: Uint8Array, source = 'report'): NamedReport {
  let decoded: unknown;
  try {
    decoded = dagCbor.decode(data);
  } catch (error) {
    throw new CimError('CIM-INVALID-INPUT', `${source}: not valid dag-cbor (${(error as Error).message})`);
  }
  const parsed = ReportSchema.safeParse(decoded);
  if (!parsed.success) {
    throw new CimError('CIM-INVALID-INPUT', `${source}: not a report: ${firstIssue(parsed.error)}`);
  }
  const report = parsed.data as unknown as Report;
  return { report, cid: reportCid(report) };
}

/** Whether `verifier` signed this report's CID. */
export function reportSignedBy(named: NamedReport, verifier: Verifier): boolean {
  return named.report.signer === verifier.keyId && verifier.verify(named.cid.bytes, named.report.signature);
}
