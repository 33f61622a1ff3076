// The one error the broker and key repositories throw for a request they refuse. Its code says
// why, so the API can answer with the right status and the CLI can print the message and exit 1.

export const ACCESS_STORE_ERROR_CODES = [
  /** A field is malformed (name, role, label, expiry). */
  'INVALID_INPUT',
  /** A broker with that name exists already. */
  'BROKER_NAME_TAKEN',
  /** No broker with that id. */
  'BROKER_NOT_FOUND',
  /** The broker is disabled: no new keys for it. */
  'BROKER_DISABLED',
  /** A broker role needs a broker, and of the matching kind; operator and viewer keys take none. */
  'BROKER_MISMATCH',
  /** The key is revoked or expired and cannot be rotated. */
  'KEY_NOT_ACTIVE',
] as const;
export type AccessStoreErrorCode = (typeof ACCESS_STORE_ERROR_CODES)[number];

export class AccessStoreError extends Error {
  readonly code: AccessStoreErrorCode;
  constructor(code: AccessStoreErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'AccessStoreError';
  }
}
