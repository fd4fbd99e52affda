import { setTimeout as delay } from 'node:timers/promises';
import type { HttpClient } from '@azure/core-rest-pipeline';
import {
  compareGenerations,
  formatGeneration,
  generationOf,
  generationTags,
  nextGeneration,
  type ConsentGeneration,
} from '../../shared/partner-center/consent-generation';
import { KEY_VAULT_TIMEOUT_MS } from '../../shared/secrets/key-vault-store';
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
  /** Store (or hand out) a token whose sign-in shows no MFA (`--allow-without-mfa`); refused otherwise. */
  allowWithoutMfa?: boolean;
  say: Say;
  /** Authorization code flow: listener port (0: free) and how long to wait for the redirect. */
  port?: number;
  timeoutMs?: number;
  openUrl?: (url: string) => void | Promise<void>;
  /** Device code flow: waits between polls (tests). */
  sleep?: (ms: number) => Promise<void>;
  httpClient?: HttpClient;
  /** Milliseconds since the epoch: the new consent's generation (tests). */
  now?: () => number;
  /**
   * Waits before checking that the stored token is still the current one: longer than an app write-back that was
   * already under way when it was stored can take (the Key Vault timeout). Tests replace it with an event.
   */
  settle?: () => Promise<void>;
}

/** An app write-back reads the vault, then writes; one that read before this consent was stored lands within this. */
export const WRITE_SETTLE_MS = KEY_VAULT_TIMEOUT_MS + 5_000;
/** How often the consent checks (and if need be repeats) its write. */
const STORE_ROUNDS = 3;

export interface ConsentResult {
  /** The refresh token. The CLI prints it only when asked to (`--print-token`). */
  refreshToken: string;
  /** Where it was stored ("key-vault", "memory", ...), or undefined when it was not stored. */
  storedIn: string | undefined;
  /** The consent generation it was stored with (tag `consent-generation`), when stored. */
  generation: string | undefined;
  /** True/false when the token says whether the sign-in used MFA; undefined when it cannot tell. */
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
  const methods =
    authenticationMethods(tokens.accessToken) ?? (tokens.idToken ? authenticationMethods(tokens.idToken) : undefined);
  const mfa = methods ? methods.includes('mfa') : undefined;
  if (mfa !== true) {
    const what =
      mfa === false
        ? 'this sign-in did not use MFA (the token\'s amr claim has no "mfa")'
        : 'the token does not say whether this sign-in used MFA (no amr claim)';
    if (!options.allowWithoutMfa) {
      throw new ConsentError(
        `Consent refused: ${what}. Partner Center refuses App+User calls without MFA. Sign in again as a partner admin with MFA (or, knowingly, run with --allow-without-mfa).`,
      );
    }
    options.say(
      `WARNING: ${what}; kept because of --allow-without-mfa. Partner Center refuses App+User calls without MFA.`,
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
  let generation: string | undefined;
  if (options.store) {
    const stored = await storeConsent(options.store, tokens.refreshToken, options);
    storedIn = options.store.kind;
    generation = formatGeneration(stored);
  }
  return { refreshToken: tokens.refreshToken, storedIn, generation, mfa, verified };
}

/**
 * Stores the token as a new consent generation, newer than whatever the store holds, so that the app switches to it
 * and never writes an older chain over it. Key Vault has no conditional write: an app write-back that read the vault
 * just before this write may still land after it. So the current version is checked again once such a write must
 * have landed, and the token stored again when an older generation came in over it.
 */
async function storeConsent(
  store: SecretStore,
  token: string,
  options: Pick<ConsentOptions, 'now' | 'settle' | 'say'>,
): Promise<ConsentGeneration> {
  const before = await store.read('PARTNER_CENTER_REFRESH_TOKEN');
  const generation = nextGeneration(before && generationOf(before), (options.now ?? Date.now)());
  const settle = options.settle ?? (() => delay(WRITE_SETTLE_MS));
  await store.set('PARTNER_CENTER_REFRESH_TOKEN', token, generationTags(generation));
  options.say(
    `Stored as consent generation ${formatGeneration(generation)}; checking in ${Math.round(WRITE_SETTLE_MS / 1000)} s that no write-back of the app came in over it ...`,
  );
  for (let round = 1; ; round += 1) {
    await settle();
    const current = await store.read('PARTNER_CENTER_REFRESH_TOKEN');
    const theirs = current && generationOf(current);
    const order = theirs ? compareGenerations(theirs, generation) : -1;
    // The same generation is this consent (or the app's rotation of it); a newer one is a later consent.
    if (order === 0) return generation;
    if (order > 0) {
      options.say(`A newer consent (generation ${formatGeneration(theirs!)}) was stored after this one: it wins.`);
      return generation;
    }
    if (round === STORE_ROUNDS) break;
    options.say('A write-back of the older consent came in over this one: storing it again.');
    await store.set('PARTNER_CENTER_REFRESH_TOKEN', token, generationTags(generation));
  }
  throw new ConsentError(
    `The new refresh token was stored ${STORE_ROUNDS} times and each time replaced by the app's write-back of the older consent. Stop the function app, run the consent again, then start it.`,
  );
}
