// A seal: a signed record of the Merkle root (RFC 6962) over a range of a domain stream's event
// CIDs in stream order, chained to the domain's previous seal. The signature is Ed25519 over the
// CID of the record without its signature, so the CID names exactly what was signed.
import * as dagCbor from '@ipld/dag-cbor';
import { z } from 'zod';
import { CimError, firstIssue } from '../errors.js';
import { CID, cidOfBlock } from '../eventstore/cid.js';
import type { Signer, Verifier } from './signing-key.js';

export const SEAL_VERSION = 1;

export interface SealBody {
  v: number;
  domain: string;
  /** First and last stream sequence of the range (inclusive). */
  fromSeq: number;
  toSeq: number;
  /** Events in the range when it was sealed (less than toSeq − fromSeq + 1 only if some were gone). */
  count: number;
  merkleRoot: Uint8Array;
  /** CID of the domain's previous seal; null for the first. */
  prevSeal: CID | null;
  at: string;
  /** Key id of the signer (`ed25519:…`). */
  signer: string;
}

export interface Seal extends SealBody {
  signature: Uint8Array;
}

/** A seal with its name: the CID of its body. */
export interface NamedSeal {
  seal: Seal;
  cid: CID;
}

const bytes = z.custom<Uint8Array>((value) => value instanceof Uint8Array, { error: 'expected bytes' });
const cid = z.custom<CID>((value) => CID.asCID(value) !== null, { error: 'expected a CID' });

export const SealSchema = z
  .object({
    v: z.literal(SEAL_VERSION),
    domain: z.string().min(1),
    fromSeq: z.number().int().min(1),
    toSeq: z.number().int().min(1),
    count: z.number().int().min(1),
    merkleRoot: bytes,
    prevSeal: cid.nullable(),
    at: z.string(),
    signer: z.string(),
    signature: bytes,
  })
  .strict()
  .refine((s) => s.toSeq >= s.fromSeq && s.count <= s.toSeq - s.fromSeq + 1, {
    error: 'range and count do not fit',
    path: ['count'],
  });

/** The CID of a seal's body: the record without its signature (a signature is ignored if present). */
export function sealCid(seal: SealBody | Seal): CID {
  const body: SealBody = {
    v: seal.v,
    domain: seal.domain,
    fromSeq: seal.fromSeq,
    toSeq: seal.toSeq,
    count: seal.count,
    merkleRoot: seal.merkleRoot,
    prevSeal: seal.prevSeal,
    at: seal.at,
    signer: seal.signer,
  };
  return cidOfBlock(dagCbor.encode(body));
}

export function signSeal(body: SealBody, signer: Signer): NamedSeal {
  const named = sealCid({ ...body, signer: signer.keyId });
  return { seal: { ...body, signer: signer.keyId, signature: signer.sign(named.bytes) }, cid: named };
}

export function encodeSeal(seal: Seal): Uint8Array {
  return dagCbor.encode(seal);
}

/** Decodes a seal message; CIM-INVALID-EVENT names what is wrong with it. */
export function decodeSeal(data: Uint8Array): NamedSeal {
  let decoded: unknown;
  try {
    decoded = dagCbor.decode(data);
  } catch (error) {
    throw new CimError('CIM-INVALID-EVENT', `seal is not valid dag-cbor: ${(error as Error).message}`);
  }
  const parsed = SealSchema.safeParse(decoded);
  if (!parsed.success) {
    throw new CimError('CIM-INVALID-EVENT', `not a valid seal: ${firstIssue(parsed.error)}`);
  }
  const seal = parsed.data as Seal;
  return { seal, cid: sealCid(seal) };
}

/** Whether one of the trusted keys signed this seal's CID. */
export function sealSignedBy(
  named: NamedSeal,
  trusted: readonly Verifier[],
): 'valid' | 'untrusted-signer' | 'bad-signature' {
  const verifier = trusted.find((v) => v.keyId === named.seal.signer);
  if (!verifier) return 'untrusted-signer';
  return verifier.verify(named.cid.bytes, named.seal.signature) ? 'valid' : 'bad-signature';
}
