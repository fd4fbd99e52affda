import { once } from 'node:events';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import {
  createDefaultHttpClient,
  createEmptyPipeline,
  createHttpHeaders,
  createPipelineRequest,
  isRestError,
  type HttpClient,
  type Pipeline,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import type { SecretName, SecretStore } from '../secrets/types';
import { noTelemetry, type Telemetry } from '../telemetry/telemetry';
import {
  CONSENT_INSTRUCTION,
  ClientCredentialInvalidError,
  MissingSecretError,
  PartnerCenterCredentialError,
  RefreshTokenInvalidError,
  TokenEndpointError,
} from './credential-errors';
import { RefreshTokenOwner, type HeldToken } from './consent';
import { int, isObject, parseJson, prop, str } from './json';
import { silentLogger, type PartnerCenterLogger } from './logger';
import { AttemptTimeoutError, attemptTimeoutPolicy } from './policies/attempt-timeout';
import { PARTNER_CENTER_SCOPE } from './policies/auth';
import { partnerCenterRetryPolicy, type RetryDelay } from './policies/retry';
import { partnerCenterTelemetryPolicy } from './policies/telemetry';
import { redact, snippet } from './redact';

export interface SecureAppModelCredentialOptions {
  /** The partner tenant (GUID or domain). */
  tenantId: string;
  /** The consented app registration. */
  clientId: string;
  /** e.g. https://login.microsoftonline.com (or the simulator). */
  authorityHost: string;
  /** Holds PARTNER_CENTER_CLIENT_SECRET (and PARTNER_CENTER_REFRESH_TOKEN, through `consent`). */
  secretStore: SecretStore;
  /**
   * The one owner of the refresh token (reads, rotations, write-backs; shared/partner-center/consent.ts). Default:
   * one over `secretStore` that reads the token at every refresh and writes every rotation back at once.
   */
  consent?: RefreshTokenOwner;
  logger?: PartnerCenterLogger;
  telemetry?: Telemetry;
  /** Refresh this long before expiry (capped at half the token's lifetime); default 5 minutes. */
  refreshMarginMs?: number;
  /** After invalid_grant / invalid_client, rethrow that error without asking Entra ID again for this long (default 60 s) unless the stored secrets change. */
  refusalBackoffMs?: number;
  /** Token endpoint: timeout per attempt (default 15 s), attempts (default 3), backoff (default 0.5 s to 8 s). */
  attemptTimeoutMs?: number;
  maxAttempts?: number;
  retryDelay?: RetryDelay;
  httpClient?: HttpClient;
  /** Clock (ms since epoch), for tests. */
  now?: () => number;
}

interface CachedToken {
  token: string;
  expiresOnTimestamp: number;
  refreshAt: number;
}

interface TokenResponse {
  accessToken: string;
  expiresInMs: number;
  refreshToken: string | undefined;
}

const MAX_KNOWN_SECRETS = 16;
const CONSENT_ERRORS = new Set(['invalid_grant', 'interaction_required', 'consent_required']);
const CLIENT_ERRORS = new Set(['invalid_client', 'unauthorized_client']);

/**
 * Partner Center's secure application model (App+User) as a TokenCredential: the OAuth 2.0 refresh-token grant
 * against `${authorityHost}/${tenantId}/oauth2/v2.0/token`.
 * - The access token is reused until `refreshMarginMs` before it expires; concurrent callers share one refresh.
 * - The refresh token comes from, and every rotation goes to, its one owner (`consent`), which writes it back in
 *   the background (callers never wait for it) and never over a newer consent.
 * - `invalid_grant` → RefreshTokenInvalidError (run the consent again), after one try with a token an operator
 *   stored meanwhile; `invalid_client` → ClientCredentialInvalidError.
 * Hand-rolled rather than msal-node because msal keeps the rotated refresh token in its own cache.
 */
export class SecureAppModelCredential implements TokenCredential {
  private readonly options: SecureAppModelCredentialOptions;
  private readonly tokenUrl: string;
  private readonly pipeline: Pipeline;
  private readonly httpClient: HttpClient;
  private readonly logger: PartnerCenterLogger;
  private readonly telemetry: Telemetry;
  private readonly now: () => number;
  private cached: CachedToken | undefined;
  private inflight: Promise<CachedToken> | undefined;
  /** The one owner of the refresh token. */
  readonly consent: RefreshTokenOwner;
  /** The values of the last token request, and the refusal they got (see failFastWhileRefused). */
  private lastAttempt = { refreshToken: '', clientSecret: '' };
  private refused:
    { error: PartnerCenterCredentialError; at: number; refreshToken: string; clientSecret: string } | undefined;
  /** Every secret value seen, masked out of any text we log or throw. */
  private readonly knownSecrets = new Set<string>();

  constructor(options: SecureAppModelCredentialOptions) {
    this.options = options;
    this.tokenUrl = `${options.authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(options.tenantId)}/oauth2/v2.0/token`;
    this.logger = options.logger ?? silentLogger;
    this.telemetry = options.telemetry ?? noTelemetry;
    this.now = options.now ?? Date.now;
    this.httpClient = options.httpClient ?? createDefaultHttpClient();
    this.consent =
      options.consent ??
      new RefreshTokenOwner(options.secretStore, {
        checkIntervalMs: 0,
        writeIntervalMs: 0,
        logger: this.logger,
        now: this.now,
      });
    const pipeline = createEmptyPipeline();
    pipeline.addPolicy(
      partnerCenterRetryPolicy({
        maxAttempts: options.maxAttempts ?? 3,
        retryDelay: options.retryDelay ?? { baseMs: 500, maxMs: 8000 },
        maxRetryAfterMs: 30_000,
        onRetry: (event) =>
          this.logger('warn', 'Token request will be retried', {
            attempt: event.attempt,
            delayMs: event.delayMs,
            status: event.status,
            errorCode: event.errorCode,
          }),
      }),
    );
    pipeline.addPolicy(partnerCenterTelemetryPolicy(this.telemetry, this.logger));
    pipeline.addPolicy(attemptTimeoutPolicy(options.attemptTimeoutMs ?? 15_000));
    this.pipeline = pipeline;
  }

  async getToken(scopes: string | string[], options: GetTokenOptions = {}): Promise<AccessToken> {
    const requested = Array.isArray(scopes) ? scopes : [scopes];
    if (requested.length !== 1 || requested[0] !== PARTNER_CENTER_SCOPE) {
      throw new Error(`SecureAppModelCredential issues tokens for ${PARTNER_CENTER_SCOPE} only`);
    }
    const now = this.now();
    const cached = this.cached;
    if (cached && now < cached.refreshAt) return toAccessToken(cached);
    // One refresh for all concurrent callers; a caller's abort stops its own wait, never the shared refresh.
    this.inflight ??= this.refresh().finally(() => {
      this.inflight = undefined;
    });
    try {
      return toAccessToken(await abortable(this.inflight, options.abortSignal));
    } catch (error) {
      // Inside the margin the old token still works: a transient refresh failure must not stop calls.
      const stillValid = cached && this.now() < cached.expiresOnTimestamp - 30_000;
      if (stillValid && error instanceof TokenEndpointError && error.category === 'transient') {
        this.logger('warn', 'Token refresh failed; using the current access token until it expires', {
          errorName: error.name,
          status: error.status,
        });
        return toAccessToken(cached);
      }
      throw error;
    }
  }

  /** Drops the cached access token if it is `token` (Partner Center refused it); the next getToken refreshes. */
  invalidateAccessToken(token: string): void {
    if (this.cached?.token === token) this.cached = undefined;
  }

  /** Writes a rotated refresh token still held in memory now (the owner's `flush`); throws when that fails. */
  flushRefreshTokenWrite(): Promise<void> {
    return this.consent.flush();
  }

  private async refresh(): Promise<CachedToken> {
    await this.failFastWhileRefused();
    try {
      return this.cache(await this.redeem());
    } catch (error) {
      if (error instanceof RefreshTokenInvalidError || error instanceof ClientCredentialInvalidError) {
        this.refused = { error, at: this.now(), ...this.lastAttempt };
      }
      if (error instanceof PartnerCenterCredentialError && error.category === 'auth') this.report(error);
      throw error;
    }
  }

  /**
   * After Entra ID refused our refresh token or client secret, every call would ask again and get the same answer:
   * for `refusalBackoffMs` the same error is rethrown without a token request — unless the store now holds a
   * different secret or refresh token (an operator fixed it), which is then used at once.
   */
  private async failFastWhileRefused(): Promise<void> {
    const refused = this.refused;
    if (!refused) return;
    if (this.now() - refused.at >= (this.options.refusalBackoffMs ?? 60_000)) {
      this.refused = undefined;
      return;
    }
    const [clientSecret, held] = await Promise.all([
      this.getSecret('PARTNER_CENTER_CLIENT_SECRET').catch(() => undefined),
      this.consent.current().catch(() => undefined),
    ]);
    const tokenChanged = held !== undefined && held.token !== refused.refreshToken;
    if (clientSecret === refused.clientSecret && !tokenChanged) throw refused.error;
    this.refused = undefined;
  }

  /**
   * Redeems the owner's refresh token and hands it the rotation; on invalid_grant, once more with the token an
   * operator stored meanwhile (the owner reads the vault at once and drops what it still had to write).
   */
  private async redeem(): Promise<TokenResponse> {
    const clientSecret = await this.readClientSecret();
    let held = await this.currentRefreshToken();
    for (let attempt = 1; ; attempt += 1) {
      try {
        const result = await this.requestToken(held.token, clientSecret);
        if (result.refreshToken) {
          this.remember(result.refreshToken);
          this.consent.rotated(held, result.refreshToken);
        }
        return result;
      } catch (error) {
        if (!(error instanceof RefreshTokenInvalidError)) throw error;
        // Told even when no retry follows: the owner drops what it had to write of this token's chain.
        const replacement = await this.consent.refused(held);
        if (!replacement || attempt >= 2) throw error;
        held = replacement;
        this.remember(held.token);
      }
    }
  }

  private async currentRefreshToken(): Promise<HeldToken> {
    let held: HeldToken | undefined;
    try {
      held = await this.consent.current();
    } catch (error) {
      throw this.storeUnavailable('PARTNER_CENTER_REFRESH_TOKEN', error);
    }
    if (!held) {
      throw new MissingSecretError(
        `PARTNER_CENTER_REFRESH_TOKEN is not in the secret store (${this.consent.storeKind}). ${CONSENT_INSTRUCTION}`,
      );
    }
    this.remember(held.token);
    return held;
  }

  private cache(result: TokenResponse): CachedToken {
    const issuedAt = this.now();
    const margin = Math.min(this.options.refreshMarginMs ?? 5 * 60_000, result.expiresInMs / 2);
    const cached: CachedToken = {
      token: result.accessToken,
      expiresOnTimestamp: issuedAt + result.expiresInMs,
      refreshAt: issuedAt + result.expiresInMs - margin,
    };
    this.cached = cached;
    this.logger('info', 'Partner Center access token refreshed', {
      expiresInSeconds: Math.round(result.expiresInMs / 1000),
      refreshTokenRotated: result.refreshToken !== undefined,
    });
    return cached;
  }

  private async readClientSecret(): Promise<string> {
    const value = await this.getSecret('PARTNER_CENTER_CLIENT_SECRET');
    if (!value) {
      throw new MissingSecretError(
        `PARTNER_CENTER_CLIENT_SECRET is not in the secret store (${this.options.secretStore.kind}). Store the app registration secret under this name.`,
      );
    }
    this.remember(value);
    return value;
  }

  private async getSecret(name: SecretName): Promise<string | undefined> {
    try {
      return await this.options.secretStore.get(name);
    } catch (error) {
      throw this.storeUnavailable(name, error);
    }
  }

  private storeUnavailable(name: SecretName, error: unknown): TokenEndpointError {
    return new TokenEndpointError(
      `Could not read ${name} from the secret store (${this.options.secretStore.kind}): ${this.clean(error instanceof Error ? error.message : String(error))}`,
      'transient',
      undefined,
      { cause: error },
    );
  }

  private async requestToken(refreshToken: string, clientSecret: string): Promise<TokenResponse> {
    this.lastAttempt = { refreshToken, clientSecret };
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: this.options.clientId,
      client_secret: clientSecret,
      refresh_token: refreshToken,
      scope: PARTNER_CENTER_SCOPE,
    });
    const request = createPipelineRequest({
      url: this.tokenUrl,
      method: 'POST',
      body: form.toString(),
      headers: createHttpHeaders({ 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }),
      allowInsecureConnection: this.tokenUrl.startsWith('http:'),
    });
    let response: PipelineResponse;
    try {
      response = await this.pipeline.sendRequest(this.httpClient, request);
    } catch (error) {
      const what =
        error instanceof AttemptTimeoutError
          ? `no answer within ${error.timeoutMs} ms`
          : isRestError(error)
            ? `network failure (${error.code ?? 'unknown'})`
            : this.clean(error instanceof Error ? error.message : String(error));
      throw new TokenEndpointError(`The token endpoint could not be reached: ${what}`, 'transient', undefined, {
        cause: error,
      });
    }
    if (response.status === 200) return this.readTokenResponse(response);
    throw this.tokenError(response);
  }

  private readTokenResponse(response: PipelineResponse): TokenResponse {
    const body = parseJson(response.bodyAsText ?? undefined);
    const accessToken = str(prop(body, 'access_token'));
    const expiresIn = int(prop(body, 'expires_in'));
    if (!isObject(body) || !accessToken || expiresIn === undefined || expiresIn <= 0) {
      throw new TokenEndpointError('The token endpoint answered 200 without access_token/expires_in', 'transient', 200);
    }
    this.remember(accessToken);
    return { accessToken, expiresInMs: expiresIn * 1000, refreshToken: str(prop(body, 'refresh_token')) || undefined };
  }

  private tokenError(response: PipelineResponse): PartnerCenterCredentialError {
    const body = parseJson(response.bodyAsText ?? undefined);
    const error = str(prop(body, 'error'));
    const codes = prop(body, 'error_codes');
    const aadErrorCodes = Array.isArray(codes) ? codes.map(int).filter((c): c is number => c !== undefined) : [];
    const traceId = str(prop(body, 'trace_id'));
    // The first line of error_description ("AADSTS700082: The refresh token has expired ..."), cleaned and cut.
    const description = this.clean(snippet((str(prop(body, 'error_description')) ?? '').split(/\r?\n/)[0], 300));
    const details = { aadErrorCodes, traceId };
    const summary = [error ?? `HTTP ${response.status}`, description].filter(Boolean).join(': ');
    const trace = traceId ? ` (trace id ${traceId})` : '';
    if (error && CONSENT_ERRORS.has(error)) {
      return new RefreshTokenInvalidError(
        `Entra ID refused the Partner Center refresh token (${summary})${trace}. ${CONSENT_INSTRUCTION}`,
        details,
      );
    }
    if (error && CLIENT_ERRORS.has(error)) {
      return new ClientCredentialInvalidError(
        `Entra ID refused the app registration ${this.options.clientId} (${summary})${trace}. Check PARTNER_CENTER_CLIENT_SECRET (wrong or expired) and PARTNER_CENTER_CLIENT_ID.`,
        details,
      );
    }
    const transient = response.status === 408 || response.status === 429 || response.status >= 500;
    return new TokenEndpointError(
      `The token endpoint answered HTTP ${response.status} (${summary})${trace}`,
      transient ? 'transient' : 'auth',
      response.status,
      details,
    );
  }

  private report(error: PartnerCenterCredentialError): void {
    const properties = {
      errorName: error.name,
      aadErrorCodes: error.aadErrorCodes.join(','),
      traceId: error.traceId ?? '',
    };
    this.logger('error', error.message, properties);
    this.telemetry.event(
      error instanceof RefreshTokenInvalidError ? 'RefreshTokenInvalid' : 'PartnerCenterAuthFailed',
      properties,
    );
  }

  private remember(secret: string): void {
    if (secret.length < 8) return;
    this.knownSecrets.add(secret);
    // Bounded: one rotated token per refresh would otherwise grow this for the life of the process.
    if (this.knownSecrets.size > MAX_KNOWN_SECRETS) {
      const oldest = this.knownSecrets.values().next().value;
      if (oldest !== undefined) this.knownSecrets.delete(oldest);
    }
  }

  /** Redacts token-shaped text and masks every secret value this credential has seen. */
  private clean(text: string): string {
    let result = redact(text);
    for (const secret of this.knownSecrets) result = result.split(secret).join('[redacted]');
    return result;
  }
}

function toAccessToken(cached: CachedToken): AccessToken {
  return { token: cached.token, expiresOnTimestamp: cached.expiresOnTimestamp, tokenType: 'Bearer' };
}

/** Waits for `promise` unless `signal` fires first (then rejects with an AbortError); the promise itself runs on. */
async function abortable<T>(promise: Promise<T>, signal: GetTokenOptions['abortSignal']): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) throw abortError();
  const settled = new AbortController(); // removes the abort listener once the race is over
  // Typed as the SDK's look-alike; `once` needs only `addEventListener`, and the pipeline passes real AbortSignals.
  const aborted = once(signal as AbortSignal, 'abort', { signal: settled.signal }).then((): never => {
    throw abortError();
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    settled.abort();
  }
}

function abortError(): Error {
  const error = new Error('The token request was aborted by the caller');
  error.name = 'AbortError';
  return error;
}
