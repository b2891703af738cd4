// Report documents (dag-cbor, CID, signature), the ledger and the renderers.
// Built by the reports issue; nothing is exported yet.
export {};
