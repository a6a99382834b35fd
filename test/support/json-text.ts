import type { JsonText } from '../../src/facebook';

/** Ready-made JSON text in the form a UsersBatch carries its rows. */
export function jsonText(text: string): JsonText {
  const bytes = Buffer.from(text, 'utf8');
  return { byteLength: bytes.length, writeTo: (target, offset) => offset + bytes.copy(target, offset) };
}
