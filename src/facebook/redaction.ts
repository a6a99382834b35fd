/**
 * Error messages travel into Temporal history, logs and the Web UI, so anything that could be a credential or
 * a person's data is cut out of text that came from outside (Meta's error messages, network errors).
 */

const MAX_REDACTED_LENGTH = 300;

const ACCESS_TOKEN_PARAMETER = /(access_token|appsecret_proof)=[^&\s"']+/gi;
/** Meta user and system-user tokens start with EAA. */
const META_TOKEN = /\bEAA[A-Za-z0-9]{20,}/g;
const EMAIL = /[^\s@"'<>(),;:[\]]+@[^\s@"'<>(),;:[\]]+\.[A-Za-z]{2,}/g;
/** Hashes (SHA-256 is 64 hex characters) and other long opaque values. */
const HEX_RUN = /\b[0-9a-fA-F]{16,}\b/g;
/** Phone numbers, possibly written with separators; also catches long ids, which is harmless. */
const DIGIT_RUN = /\+?\d[\d\s().-]{5,}\d/g;
const MIN_REDACTED_DIGITS = 7;

export function redactSensitiveText(text: string, secrets: readonly string[] = []): string {
  let redacted = text;
  for (const secret of secrets) {
    if (secret.length > 0) redacted = redacted.split(secret).join('[redacted token]');
  }
  redacted = redacted
    .replace(ACCESS_TOKEN_PARAMETER, '$1=[redacted]')
    .replace(META_TOKEN, '[redacted token]')
    .replace(EMAIL, '[email]')
    .replace(HEX_RUN, '[hex]')
    .replace(DIGIT_RUN, (run) => (countDigits(run) >= MIN_REDACTED_DIGITS ? '[number]' : run));
  return redacted.length > MAX_REDACTED_LENGTH ? `${redacted.slice(0, MAX_REDACTED_LENGTH)}…` : redacted;
}

function countDigits(text: string): number {
  let digits = 0;
  for (const char of text) if (char >= '0' && char <= '9') digits += 1;
  return digits;
}
