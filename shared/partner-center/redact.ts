/**
 * Makes text from the outside (error bodies, exception messages) safe to put in an error message or log line: it
 * masks anything shaped like a bearer token, JWT or OAuth form field holding a secret, and keeps a short prefix.
 */
const JWT = /eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
const BEARER = /\b(bearer)\s+[\w.~+/=-]{8,}/gi;
const SECRET_FIELD =
  /\b(refresh_token|access_token|client_secret|id_token|code|password)(["']?\s*[=:]\s*["']?)[^\s"'&,}]+/gi;
const ENTRA_REFRESH_TOKEN = /\b0\.A[\w.-]{20,}/g; // Entra ID refresh tokens start with "0.A"

export function redact(text: string): string {
  return text
    .replace(JWT, '[redacted-jwt]')
    .replace(BEARER, '$1 [redacted]')
    .replace(SECRET_FIELD, '$1$2[redacted]')
    .replace(ENTRA_REFRESH_TOKEN, '[redacted-token]');
}

/** A redacted, single-line snippet of at most `max` characters. */
export function snippet(text: string | undefined, max = 200): string {
  if (!text) return '';
  const oneLine = redact(text).replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine;
}
