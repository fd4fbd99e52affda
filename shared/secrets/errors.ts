type SecretOperation = 'read' | 'write';

const FAILED: Record<SecretOperation, string> = { read: 'could not be read from', write: 'could not be written to' };

/**
 * A Key Vault call about one secret failed. The message names the vault and the secret so an operator can act; it
 * never holds a value.
 */
export abstract class SecretAccessError extends Error {
  constructor(
    readonly operation: SecretOperation,
    readonly vaultUrl: string,
    readonly secretName: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Secret "${secretName}" ${FAILED[operation]} Key Vault ${vaultUrl}: ${reason}`, options);
  }
}

/**
 * A secret could not be read and no cached value exists (typically a cold start while Key Vault is unreachable or
 * the identity lacks access).
 */
export class SecretUnavailableError extends SecretAccessError {
  override readonly name = 'SecretUnavailableError';
  constructor(vaultUrl: string, secretName: string, reason: string, options?: { cause?: unknown }) {
    super('read', vaultUrl, secretName, reason, options);
  }
}

/** A secret could not be written (a new version). */
export class SecretWriteError extends SecretAccessError {
  override readonly name = 'SecretWriteError';
  constructor(vaultUrl: string, secretName: string, reason: string, options?: { cause?: unknown }) {
    super('write', vaultUrl, secretName, reason, options);
  }
}

/** A short, value-free description of why a call failed: an HTTP status and service error code, or a network code. */
export function describeFailure(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
    const parts: string[] = [];
    if (typeof statusCode === 'number') parts.push(`HTTP ${statusCode}`);
    if (typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code)) parts.push(code);
    if (parts.length > 0) return parts.join(' ');
    // By name: abort reasons are DOMExceptions, not always Errors of this realm.
    const { name } = error as { name?: unknown };
    if (name === 'AbortError' || name === 'TimeoutError') return 'timed out';
    if (name === 'CredentialUnavailableError') return 'no credential available';
    if (name === 'AuthenticationError') return 'authentication failed';
  }
  return 'unreachable';
}
