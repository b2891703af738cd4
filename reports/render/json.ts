// The report as JSON for machines (CI steps, jq). Written as one flat object: the report's fields
// plus `cid` (which names the body, so it is not part of it). Every CID, wherever it stands, is its
// string form ("bafy…"); every byte string is standard base64; keys are sorted at every depth, so
// the same report always gives the same text. `signature` stays, so the JSON carries everything
// needed to check it against the canonical CBOR.
import { CID } from 'multiformats/cid';
import type { NamedReport } from '../types.js';
import { base64 } from './format.js';

export function renderJson(named: NamedReport): string {
  return `${JSON.stringify(toJsonValue({ ...named.report, cid: named.cid }), null, 2)}\n`;
}

/** Plain JSON data: CIDs and bytes as strings, keys sorted, `undefined` fields dropped, non-finite numbers as null. */
export function toJsonValue(value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  const cid = CID.asCID(value);
  if (cid) return cid.toString();
  if (value instanceof Uint8Array) return base64(value);
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : toJsonValue(item)));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined && typeof item !== 'function') out[key] = toJsonValue(item);
    }
    return out;
  }
  return null;
}
