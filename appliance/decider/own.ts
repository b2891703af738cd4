// Lookups by keys that come from users (ids, names): an object's own properties only. A state
// read back from a snapshot is an ordinary object again (dag-cbor decodes maps so), so a null
// prototype would not last; a plain `record[key]` would find Object.prototype's `constructor`.

/** `record[key]` when `key` is the record's own property, else undefined. */
export function own<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
