// Report documents (dag-cbor, CID, signature), the ledger and the renderers: the public surface of reports/.
export * from './types.js';
export * from './render/index.js';
