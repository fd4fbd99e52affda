import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineRequest,
  type HttpClient,
} from '@azure/core-rest-pipeline';
import { PARTNER_CENTER_SCOPE } from '../../shared/partner-center/policies/auth';

/** What the consent asks for: Partner Center on the user's behalf, and a refresh token (offline_access). */
export const CONSENT_SCOPE = `${PARTNER_CENTER_SCOPE} offline_access`;
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface Authority {
  /** e.g. https://login.microsoftonline.com (or the simulator's URL). */
  authorityHost: string;
  /** The partner tenant (GUID or domain). */
  tenantId: string;
  clientId: string;
}

/** An OAuth error answer from Entra ID (`error`, `error_description`, AADSTS codes). Never holds a token. */
export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status: number,
    readonly errorCodes: number[] = [],
  ) {
    super(`${error}: ${description.split(/\r?\n/)[0] || '(no description)'}`);
  }
}

export interface TokenResponse {
  accessToken: string;
  refreshToken: string | undefined;
  /** Only when the scope asked for `openid`; read for its `amr` claim when the access token has none. */
  idToken: string | undefined;
  expiresInSeconds: number;
  scope: string | undefined;
}

export interface DeviceCodeResponse {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  expiresInSeconds: number;
  intervalSeconds: number;
  /** The sentence Entra ID asks us to show ("To sign in, use a web browser to open ..."). */
  message: string;
}

function endpoint(authority: Authority, path: 'authorize' | 'token' | 'devicecode'): string {
  return `${authority.authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(authority.tenantId)}/oauth2/v2.0/${path}`;
}

/** The URL the admin opens to sign in (with MFA) and consent; Entra ID then redirects to `redirectUri`. */
export function authorizeUrl(
  authority: Authority,
  request: { redirectUri: string; state: string; codeChallenge: string },
): string {
  const url = new URL(endpoint(authority, 'authorize'));
  url.search = new URLSearchParams({
    client_id: authority.clientId,
    response_type: 'code',
    response_mode: 'query',
    redirect_uri: request.redirectUri,
    scope: CONSENT_SCOPE,
    state: request.state,
    code_challenge: request.codeChallenge,
    code_challenge_method: 'S256',
    // Always ask which account: consenting with a cached non-admin session is the classic mistake.
    prompt: 'select_account',
  }).toString();
  return url.toString();
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}

function seconds(value: unknown, fallback: number): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : fallback;
}

/**
 * Posts a form to an Entra ID endpoint. Built on core-rest-pipeline's HTTP client without a retry policy: an
 * authorization code or device code may be redeemed once only, so a blind retry would only turn one error into
 * another.
 */
export class TokenEndpoint {
  private readonly httpClient: HttpClient;

  constructor(
    readonly authority: Authority,
    httpClient?: HttpClient,
  ) {
    this.httpClient = httpClient ?? createDefaultHttpClient();
  }

  private async post(path: 'token' | 'devicecode', form: Record<string, string>): Promise<Record<string, unknown>> {
    const url = endpoint(this.authority, path);
    const response = await this.httpClient.sendRequest(
      createPipelineRequest({
        url,
        // Plain http only reaches here for loopback (the settings refuse it elsewhere): the local simulator.
        allowInsecureConnection: new URL(url).protocol === 'http:',
        method: 'POST',
        body: new URLSearchParams(form).toString(),
        headers: createHttpHeaders({
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        }),
        timeout: 30_000,
      }),
    );
    let body: unknown;
    try {
      body = JSON.parse(response.bodyAsText ?? '');
    } catch {
      body = undefined;
    }
    const json = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    if (response.status >= 400 || text(json.error)) {
      const codes = Array.isArray(json.error_codes) ? json.error_codes.filter((c) => typeof c === 'number') : [];
      throw new OAuthError(
        text(json.error) ?? `http_${response.status}`,
        text(json.error_description) ?? `HTTP ${response.status} from ${path} endpoint`,
        response.status,
        codes,
      );
    }
    return json;
  }

  private toTokens(json: Record<string, unknown>): TokenResponse {
    const accessToken = text(json.access_token);
    if (!accessToken) throw new OAuthError('invalid_response', 'the token endpoint returned no access_token', 200);
    return {
      accessToken,
      refreshToken: text(json.refresh_token),
      idToken: text(json.id_token),
      expiresInSeconds: seconds(json.expires_in, 3600),
      scope: text(json.scope),
    };
  }

  /** Redeems the authorization code (with the PKCE verifier; with the client secret for a confidential app). */
  async redeemCode(request: {
    code: string;
    redirectUri: string;
    codeVerifier: string;
    clientSecret?: string;
  }): Promise<TokenResponse> {
    const form: Record<string, string> = {
      grant_type: 'authorization_code',
      client_id: this.authority.clientId,
      code: request.code,
      redirect_uri: request.redirectUri,
      code_verifier: request.codeVerifier,
      scope: CONSENT_SCOPE,
    };
    if (request.clientSecret) form.client_secret = request.clientSecret;
    return this.toTokens(await this.post('token', form));
  }

  async startDeviceCode(): Promise<DeviceCodeResponse> {
    const json = await this.post('devicecode', { client_id: this.authority.clientId, scope: CONSENT_SCOPE });
    const deviceCode = text(json.device_code);
    const userCode = text(json.user_code);
    const verificationUri = text(json.verification_uri);
    if (!deviceCode || !userCode || !verificationUri) {
      throw new OAuthError('invalid_response', 'the device code endpoint returned an incomplete answer', 200);
    }
    return {
      deviceCode,
      userCode,
      verificationUri,
      expiresInSeconds: seconds(json.expires_in, 900),
      intervalSeconds: seconds(json.interval, 5),
      message: text(json.message) ?? `Open ${verificationUri} and enter the code ${userCode}.`,
    };
  }

  /** One poll of the device code grant: the tokens, or an OAuthError (`authorization_pending`, `slow_down`, ...). */
  async redeemDeviceCode(deviceCode: string): Promise<TokenResponse> {
    return this.toTokens(
      await this.post('token', {
        grant_type: DEVICE_CODE_GRANT,
        client_id: this.authority.clientId,
        device_code: deviceCode,
      }),
    );
  }

  /** The grant the app itself uses; here only to prove that the stored refresh token works with the app's secret. */
  async redeemRefreshToken(refreshToken: string, clientSecret: string): Promise<TokenResponse> {
    return this.toTokens(
      await this.post('token', {
        grant_type: 'refresh_token',
        client_id: this.authority.clientId,
        client_secret: clientSecret,
        refresh_token: refreshToken,
        scope: PARTNER_CENTER_SCOPE,
      }),
    );
  }
}

/**
 * The `amr` (authentication methods) claim of a token, read without verifying the signature: only to refuse early a
 * sign-in without MFA, which Partner Center requires for App+User calls (the token came straight from the token
 * endpoint over TLS). Undefined when the token is not a readable JWT or has no `amr` claim.
 */
export function authenticationMethods(token: string): string[] | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { amr?: unknown };
    return Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === 'string') : undefined;
  } catch {
    return undefined;
  }
}
