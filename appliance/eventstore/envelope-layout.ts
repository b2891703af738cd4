// The envelope's layout as dag-cbor writes it: a map of fourteen entries whose keys come in the
// canonical order (shorter first, then bytewise). The direct encoder writes this layout and the
// fast reader expects it, so both take it from here.
export const ENVELOPE_KEYS = [
  'v',
  'at',
  'id',
  'seq',
  'prev',
  'type',
  'actor',
  'domain',
  'payload',
  'aggregate',
  'aggregateId',
  'causationId',
  'typeVersion',
  'correlationId',
] as const;

export type EnvelopeKey = (typeof ENVELOPE_KEYS)[number];

/** Each key's encoding: a text head (major type 3, length < 24) and its bytes. */
export const ENVELOPE_KEY_BYTES: readonly Buffer[] = ENVELOPE_KEYS.map((k) =>
  Buffer.from([0x60 | k.length, ...Buffer.from(k)]),
);

/** The head of a map of fourteen entries. */
export const ENVELOPE_MAP_HEAD = 0xa0 | ENVELOPE_KEYS.length;
