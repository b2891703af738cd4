// The compliance checks: immutability, retention, erasure, access control, audit completeness.
// Built by the compliance issues; nothing is exported yet.
export {};
