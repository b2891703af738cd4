// Personal data: field encryption with a key per data subject, the key store, and erasure by
// crypto-shredding (docs/architecture.md#erasure-crypto-shredding).
export { decryptField, encryptField, fieldAad, isSealedField, KEY_BYTES, type FieldPlace } from './cipher.js';
export { eraseSubject, type Eraser, type ErasureRequest, type ErasureResult } from './erase.js';
export { FieldEncryption, personalDataOf, type PersonalDataMap } from './field-encryption.js';
export { keyStorePath, SubjectKeyStore, type KeyStoreOptions, type SubjectStatus } from './key-store.js';
