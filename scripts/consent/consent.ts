import type { HttpClient } from '@azure/core-rest-pipeline';
import type { SecretStore } from '../../shared/secrets/types';
import { authorizationCodeFlow, deviceCodeFlow, type Say } from './flows';
import { authenticationMethods, OAuthError, TokenEndpoint, type Authority } from './token-endpoint';

export interface ConsentOptions extends Authority {
  flow: 'authorization-code' | 'device-code';
  /**
   * Where the refresh token goes: Key Vault in Azure (the app reads and rotates it there). Undefined: nothing is
   * stored and the result says what to do next.
   */
  store: SecretStore | undefined;
  /** The app registration's secret, when known: sent with the code (confidential app) and used to check the token. */
  clientSecret?: string;
  say: Say;
  /** Authorization code flow: listener port (0: free) and how long to wait for the redirect. */
  port?: number;
  timeoutMs?: number;
  openUrl?: (url: string) => void | Promise<void>;
  /** Device code flow: waits between polls (tests). */
  sleep?: (ms: number) => Promise<void>;
  httpClient?: HttpClient;
}

export interface ConsentResult {
  /** The refresh token. The CLI prints it only when asked to (`--print-token`). */
  refreshToken: string;
  /** Where it was stored ("key-vault", "memory", ...), or undefined when it was not stored. */
  storedIn: string | undefined;
  /** True/false when the access token says whether the sign-in used MFA; undefined when it cannot tell. */
  mfa: boolean | undefined;
  /** True when a refresh-token grant with the client secret succeeded (what the app does); undefined: not checked. */
  verified: boolean | undefined;
}

export class ConsentError extends Error {
  override readonly name = 'ConsentError';
}

/** Explains an Entra ID error in terms of what the operator can fix. */
export function explain(error: OAuthError): string {
  const codes = new Set(error.errorCodes);
  const has = (code: number): boolean => codes.has(code) || error.description.includes(`AADSTS${code}`);
  if (has(700025)) {
    return 'The refresh token was issued to a public client and cannot be redeemed with the client secret the app uses. Use the authorization-code flow (without --device-code).';
  }
  if (has(7000218)) {
    return 'The app registration is a confidential client: set PARTNER_CENTER_CLIENT_SECRET (in Key Vault or the environment) and run the consent again.';
  }
  if (has(7000215) || error.error === 'invalid_client') {
    return 'The client secret was refused: check PARTNER_CENTER_CLIENT_SECRET (the secret value, not its id).';
  }
  if (has(50011) || has(500113)) {
    return 'The redirect URI is not registered: add http://localhost as a redirect URI of the app registration.';
  }
  if (error.error === 'authorization_declined') return 'The sign-in was declined.';
  if (error.error === 'expired_token') return 'The code expired before the sign-in completed: run the consent again.';
  if (has(700016) || error.error === 'unauthorized_client') {
    return 'The app registration was not found in this tenant, or does not allow this flow (device code needs "Allow public client flows").';
  }
  return `Entra ID refused the request (${error.message}).`;
}

/**
 * The one-time App+User consent of Partner Center's secure application model: an interactive sign-in (with MFA)
 * that yields a refresh token, stored where the app reads it (`PARTNER_CENTER_REFRESH_TOKEN`).
 */
export async function runConsent(options: ConsentOptions): Promise<ConsentResult> {
  const endpoint = new TokenEndpoint(
    { authorityHost: options.authorityHost, tenantId: options.tenantId, clientId: options.clientId },
    options.httpClient,
  );
  let tokens;
  try {
    tokens =
      options.flow === 'device-code'
        ? await deviceCodeFlow(endpoint, { say: options.say, sleep: options.sleep })
        : await authorizationCodeFlow(endpoint, {
            say: options.say,
            clientSecret: options.clientSecret,
            port: options.port,
            timeoutMs: options.timeoutMs,
            openUrl: options.openUrl,
          });
  } catch (error) {
    if (error instanceof OAuthError) throw new ConsentError(`Consent failed: ${explain(error)}`, { cause: error });
    throw error;
  }
  if (!tokens.refreshToken) {
    throw new ConsentError(
      'Consent failed: Entra ID returned no refresh token (the offline_access scope was not granted).',
    );
  }
  const methods = authenticationMethods(tokens.accessToken);
  const mfa = methods ? methods.includes('mfa') : undefined;
  if (mfa === false) {
    options.say(
      'WARNING: this sign-in did not use MFA. Partner Center refuses App+User calls without MFA: sign in again with MFA.',
    );
  }

  let verified: boolean | undefined;
  if (options.clientSecret) {
    try {
      await endpoint.redeemRefreshToken(tokens.refreshToken, options.clientSecret);
      verified = true;
      options.say("Checked: the token endpoint accepts this refresh token with the app's client secret.");
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      throw new ConsentError(`The new refresh token does not work for the app: ${explain(error)}`, { cause: error });
    }
  }

  let storedIn: string | undefined;
  if (options.store) {
    await options.store.set('PARTNER_CENTER_REFRESH_TOKEN', tokens.refreshToken);
    storedIn = options.store.kind;
  }
  return { refreshToken: tokens.refreshToken, storedIn, mfa, verified };
}
