import type { PartnerCenterErrorCategory } from './errors';

/**
 * Errors of the secure-application-model credential. None of their messages holds a token or secret: descriptions
 * from Entra ID are redacted and cut, and the values the credential knows are masked before use.
 */
export abstract class PartnerCenterCredentialError extends Error {
  abstract readonly category: PartnerCenterErrorCategory;
  /** Entra ID error codes (AADSTS700082 → 700082) and trace id, for support. */
  readonly aadErrorCodes: number[];
  readonly traceId: string | undefined;
  constructor(message: string, details: { aadErrorCodes?: number[]; traceId?: string; cause?: unknown } = {}) {
    super(message, { cause: details.cause });
    this.aadErrorCodes = details.aadErrorCodes ?? [];
    this.traceId = details.traceId;
  }
}

export const CONSENT_INSTRUCTION =
  'A partner admin must run the consent again (`npm run consent`: interactive sign-in with MFA), which stores a new PARTNER_CENTER_REFRESH_TOKEN.';

/** `invalid_grant` (e.g. AADSTS700082: unused for 90 days), or consent/MFA needed: only a new consent helps. */
export class RefreshTokenInvalidError extends PartnerCenterCredentialError {
  override readonly name = 'RefreshTokenInvalidError';
  readonly category = 'auth';
}

/** `invalid_client`: the client secret is wrong or expired (or the app registration is gone). */
export class ClientCredentialInvalidError extends PartnerCenterCredentialError {
  override readonly name = 'ClientCredentialInvalidError';
  readonly category = 'auth';
}

/** A secret the credential needs is not in the secret store. */
export class MissingSecretError extends PartnerCenterCredentialError {
  override readonly name = 'MissingSecretError';
  readonly category = 'auth';
}

/** Any other token endpoint failure: `transient` (5xx, 429, network, timeout, secret store down) or `auth`. */
export class TokenEndpointError extends PartnerCenterCredentialError {
  override readonly name = 'TokenEndpointError';
  constructor(
    message: string,
    readonly category: 'transient' | 'auth',
    readonly status: number | undefined,
    details: { aadErrorCodes?: number[]; traceId?: string; cause?: unknown } = {},
  ) {
    super(message, details);
  }
}
