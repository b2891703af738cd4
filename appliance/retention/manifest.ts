// A removal manifest (docs/architecture.md#retention-and-legal-holds): what retention removed from
// a domain stream, under which seal — `{v, domain, seal, removed: [[streamSeq, eventCid], …],
// policy, at}` in dag-cbor, named by its CID. Written to CIM_RETENTION (deny_delete, deny_purge)
// before any message is deleted, so that verification can recompute the seal's Merkle root with
// the manifest's CIDs where the events are gone, and a crash between the two leaves a manifest a
// re-run completes.
import * as dagCbor from '@ipld/dag-cbor';
import { headers, type JetStreamClient, type JetStreamManager } from 'nats';
import { z } from 'zod';
import { CimError, firstIssue } from '../errors.js';
import { CID, cidOfBlock } from '../eventstore/cid.js';
import { RETENTION_STREAM, Subjects } from '../eventstore/names.js';
import { isNotFound } from '../eventstore/retry.js';
import { readStream } from '../eventstore/stream-reader.js';

export const MANIFEST_VERSION = 1;
/** Entries per manifest, so one stays far below NATS's 1 MiB message limit (≈ 45 bytes an entry). */
export const MAX_MANIFEST_ENTRIES = 10_000;

export interface ManifestPolicy {
  maxAge?: string;
  maxEventsPerAggregate?: number;
}

export interface RemovalManifest {
  v: number;
  domain: string;
  /** The CID of the seal whose range holds every removed sequence. */
  seal: CID;
  /** Stream sequence and CID of each removed event, in stream order. */
  removed: Array<[number, CID]>;
  /** The policy that expired them. */
  policy: ManifestPolicy;
  at: string;
}

export interface NamedManifest {
  manifest: RemovalManifest;
  cid: CID;
  /** Where it sits in CIM_RETENTION (0 before it is stored). */
  streamSeq: number;
}

const cid = z.custom<CID>((value) => CID.asCID(value) !== null, { error: 'expected a CID' });

const ManifestSchema = z
  .object({
    v: z.literal(MANIFEST_VERSION),
    domain: z.string().min(1),
    seal: cid,
    removed: z.array(z.tuple([z.number().int().min(1), cid])).min(1),
    policy: z
      .object({ maxAge: z.string().optional(), maxEventsPerAggregate: z.number().int().min(1).optional() })
      .strict(),
    at: z.string(),
  })
  .strict();

export function encodeManifest(manifest: RemovalManifest): Uint8Array {
  // dag-cbor refuses undefined: an absent policy field is left out.
  const policy: ManifestPolicy = {};
  if (manifest.policy.maxAge !== undefined) policy.maxAge = manifest.policy.maxAge;
  if (manifest.policy.maxEventsPerAggregate !== undefined)
    policy.maxEventsPerAggregate = manifest.policy.maxEventsPerAggregate;
  return dagCbor.encode({ ...manifest, policy });
}

export function manifestCid(manifest: RemovalManifest): CID {
  return cidOfBlock(encodeManifest(manifest));
}

/** Decodes a manifest record; CIM-INVALID-EVENT names what is wrong with it. */
export function decodeManifest(data: Uint8Array): { manifest: RemovalManifest; cid: CID } {
  let decoded: unknown;
  try {
    decoded = dagCbor.decode(data);
  } catch (error) {
    throw new CimError('CIM-INVALID-EVENT', `removal manifest is not valid dag-cbor: ${(error as Error).message}`);
  }
  const parsed = ManifestSchema.safeParse(decoded);
  if (!parsed.success)
    throw new CimError('CIM-INVALID-EVENT', `not a valid removal manifest: ${firstIssue(parsed.error)}`);
  return { manifest: parsed.data as RemovalManifest, cid: cidOfBlock(data) };
}

/** Stores a manifest (its CID is its message id: publishing it again stores nothing new). */
export async function publishManifest(
  js: JetStreamClient,
  manifest: RemovalManifest,
  subjects: Subjects = new Subjects(),
): Promise<NamedManifest> {
  const bytes = encodeManifest(manifest);
  const named = cidOfBlock(bytes);
  const h = headers();
  h.set('Cim-Cid', named.toString());
  const ack = await js.publish(subjects.retention(manifest.domain), bytes, { msgID: named.toString(), headers: h });
  return { manifest, cid: named, streamSeq: ack.seq };
}

/** What reading a domain's manifests found: the valid ones, and the records that are not (by CIM_RETENTION seq). */
export interface DomainManifests {
  manifests: NamedManifest[];
  invalid: Array<{ streamSeq: number; message: string }>;
}

/** Every removal manifest of a domain, in the order stored. */
export async function readManifests(
  js: JetStreamClient,
  jsm: JetStreamManager,
  domain: string,
  subjects: Subjects = new Subjects(),
): Promise<DomainManifests> {
  const subject = subjects.retention(domain);
  const out: DomainManifests = { manifests: [], invalid: [] };
  let lastSeq: number;
  try {
    lastSeq = (await jsm.streams.getMessage(RETENTION_STREAM, { last_by_subj: subject })).seq;
  } catch (error) {
    if (isNotFound(error) || /no message found|stream not found/i.test((error as Error).message)) return out;
    throw error;
  }
  for await (const m of readStream(js, {
    stream: RETENTION_STREAM,
    filterSubject: subject,
    fromSeq: 1,
    toSeq: lastSeq,
  })) {
    try {
      const { manifest, cid: named } = decodeManifest(m.data);
      const claimed = m.headers?.get('Cim-Cid');
      if (manifest.domain !== domain) {
        out.invalid.push({ streamSeq: m.seq, message: `a manifest of domain ${manifest.domain} under ${subject}` });
      } else if (claimed && claimed !== named.toString()) {
        out.invalid.push({
          streamSeq: m.seq,
          message: `altered: it hashes to ${named}, it was published as ${claimed}`,
        });
      } else {
        out.manifests.push({ manifest, cid: named, streamSeq: m.seq });
      }
    } catch (error) {
      out.invalid.push({ streamSeq: m.seq, message: (error as Error).message });
    }
  }
  return out;
}

/** The audit target of a removal: the domain, the manifest and the seal it is under, ids only. */
export function removalTarget(domain: string, manifest: CID, seal: CID): string {
  return `${domain}/manifest/${manifest.toString()}/seal/${seal.toString()}`;
}

/** The manifest and seal a `retention.remove` record's target names; undefined for another target. */
export function parseRemovalTarget(target: string): { domain: string; manifest: string; seal: string } | undefined {
  const match = /^([a-z][a-z0-9_-]*)\/manifest\/([a-z0-9]+)\/seal\/([a-z0-9]+)$/.exec(target);
  return match ? { domain: match[1]!, manifest: match[2]!, seal: match[3]! } : undefined;
}
