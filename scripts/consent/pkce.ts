import { createHash, randomBytes } from 'node:crypto';

/** Proof Key for Code Exchange (RFC 7636), S256: the verifier stays here, only its hash goes to the browser. */
export interface Pkce {
  verifier: string;
  challenge: string;
  method: 'S256';
}

export function createPkce(): Pkce {
  // 32 random bytes → 43 base64url characters, the shortest verifier RFC 7636 allows, with 256 bits of entropy.
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: s256(verifier), method: 'S256' };
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** An unguessable `state`, tying the redirect to this run (CSRF protection). */
export function randomState(): string {
  return randomBytes(16).toString('base64url');
}
