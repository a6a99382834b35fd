import crypto from 'node:crypto';

/** The bytes of a SHA-256 digest. */
export const SHA256_BYTES = 32;

/**
 * Lowercase hex SHA-256 of the UTF-8 bytes of `text`. The one-shot `crypto.hash` (Node 20.12+; package.json asks
 * for 20.18) is about twice as fast as `createHash` for short strings, which matters at millions of values a cycle.
 */
export const sha256Hex = (text: string): string => crypto.hash('sha256', text, 'hex');

/**
 * The digest's 32 bytes as a one-byte string ('binary' is latin1): what the staging encoder stores. It is cheaper
 * to make than hex and goes into a Buffer as a byte copy, where hex would be decoded again.
 */
export const sha256Bytes = (text: string): string => crypto.hash('sha256', text, 'binary');

/** True for 64 hex digits in any case: a value that is already a SHA-256 hash and must not be hashed again. */
export function isSha256Hex(text: string): boolean {
  if (text.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = text.charCodeAt(i);
    const isDigit = c >= 48 && c <= 57;
    const isLowerHex = c >= 97 && c <= 102;
    const isUpperHex = c >= 65 && c <= 70;
    if (!isDigit && !isLowerHex && !isUpperHex) return false;
  }
  return true;
}
