import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { SimulatorClock } from './clock';
import type { Counters } from './counters';
import { entraError, PC_ERRORS, type SimResponse } from './errors';

export const PARTNER_CENTER_RESOURCE = 'https://api.partnercenter.microsoft.com';
const PC_SCOPES = [`${PARTNER_CENTER_RESOURCE}/.default`, `${PARTNER_CENTER_RESOURCE}/user_impersonation`];
const GRANTED_SCOPE = `${PARTNER_CENTER_RESOURCE}/user_impersonation`;
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const AUTH_CODE_LIFETIME_MS = 10 * 60 * 1000;

/** The partner app the simulator accepts. Local test values, not real secrets. */
export interface SimulatorCredentials {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** A refresh token valid at start (as if the consent had been done). */
  refreshToken: string;
  /** Also accepted in the token path instead of the tenant GUID. */
  domain?: string;
}

export interface TokenSettings {
  accessTokenLifetimeSeconds: number;
  refreshTokenInactivitySeconds: number;
  deviceCodeAutoApproveSeconds: number | null;
  deviceCodeLifetimeSeconds: number;
  /** App+User tokens carry the MFA claim (default true); false: Partner Center answers 401 900421. */
  mfa: boolean;
}

export interface Caller {
  tenantId: string;
  appOnly: boolean;
  /** The token's `amr` claim has `mfa`. */
  mfa: boolean;
}

interface AccessTokenRecord {
  tenantId: string;
  expiresAt: number;
  appOnly: boolean;
  mfa: boolean;
}
interface RefreshTokenRecord {
  lastUsedAt: number;
}
interface AuthCodeRecord {
  redirectUri: string;
  codeChallenge: string;
  scope: string;
  expiresAt: number;
  redeemed: boolean;
}
interface DeviceCodeRecord {
  userCode: string;
  scope: string;
  createdAt: number;
  expiresAt: number;
  approved: boolean;
  redeemed: boolean;
}

type Form = URLSearchParams;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export function randomToken(prefix: string, bytes = 32): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/**
 * Entra ID as far as the secure application model needs it: refresh-token grant (rotating; old tokens stay valid
 * until 90 days unused), authorization code + PKCE and device code for the one-time consent, client credentials
 * (app-only tokens, which Partner Center's upgrade operations refuse). Everything is looked up in maps: O(1).
 */
export class TokenAuthority {
  private readonly accessTokens = new Map<string, AccessTokenRecord>();
  /** Keyed by SHA-256 of the token: a persisted state file then holds no usable token. */
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly authCodes = new Map<string, AuthCodeRecord>();
  private readonly deviceCodes = new Map<string, DeviceCodeRecord>();
  private readonly deviceCodesByUserCode = new Map<string, string>();
  // Signs the JWT-shaped access tokens; validity is still decided by the map (so tokens can be revoked).
  private readonly signingKey = randomBytes(32);
  baseUrl = '';
  /** Called after refresh-token state changed (persistence). */
  onChange: () => void = () => undefined;

  constructor(
    private readonly clock: SimulatorClock,
    public settings: TokenSettings,
    readonly credentials: SimulatorCredentials,
    private readonly counters: Counters,
  ) {
    this.refreshTokens.set(hashToken(credentials.refreshToken), { lastUsedAt: clock.now() });
  }

  private knownTenant(tenant: string, allowMultiTenant: boolean): boolean {
    const t = tenant.toLowerCase();
    if (t === this.credentials.tenantId.toLowerCase()) return true;
    if (this.credentials.domain && t === this.credentials.domain.toLowerCase()) return true;
    return allowMultiTenant && (t === 'common' || t === 'organizations');
  }

  private tenantNotFound(tenant: string): SimResponse {
    return entraError(
      400,
      'invalid_request',
      90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      this.clock.now(),
    );
  }

  private err(status: number, error: string, code: number, text: string): SimResponse {
    return entraError(status, error, code, text, this.clock.now());
  }

  /** Sim-time lifetime of an access token: `expires_in` real seconds, whatever the clock speed. */
  private accessLifetimeMs(): number {
    return this.settings.accessTokenLifetimeSeconds * 1000 * this.clock.speed;
  }

  private mintAccessToken(appOnly: boolean): { token: string; expiresAt: number } {
    const now = this.clock.now();
    const expiresAt = now + this.accessLifetimeMs();
    const tid = this.credentials.tenantId;
    const mfa = !appOnly && this.settings.mfa;
    const header = base64url({ typ: 'JWT', alg: 'HS256', kid: 'simulator' });
    const payload = base64url({
      aud: PARTNER_CENTER_RESOURCE,
      iss: `https://sts.windows.net/${tid}/`,
      iat: Math.floor(now / 1000),
      nbf: Math.floor(now / 1000),
      exp: Math.floor(expiresAt / 1000),
      appid: this.credentials.clientId,
      tid,
      ...(appOnly
        ? { roles: [] }
        : { amr: mfa ? ['pwd', 'mfa'] : ['pwd'], scp: 'user_impersonation', oid: randomUUID() }),
      jti: randomUUID(),
    });
    const signature = createHmac('sha256', this.signingKey).update(`${header}.${payload}`).digest('base64url');
    const token = `${header}.${payload}.${signature}`;
    this.accessTokens.set(token, { tenantId: tid, expiresAt, appOnly, mfa });
    return { token, expiresAt };
  }

  private mintRefreshToken(): string {
    const token = randomToken('simrt.', 48);
    this.refreshTokens.set(hashToken(token), { lastUsedAt: this.clock.now() });
    this.onChange();
    return token;
  }

  private tokenResponse(withRefreshToken: boolean, v1: boolean, appOnly = false): SimResponse {
    const { token, expiresAt } = this.mintAccessToken(appOnly);
    const expiresIn = this.settings.accessTokenLifetimeSeconds;
    this.counters.tokenIssued();
    const refresh = withRefreshToken ? { refresh_token: this.mintRefreshToken() } : {};
    const body = v1
      ? {
          token_type: 'Bearer',
          scope: 'user_impersonation',
          // The v1 endpoint sends these as strings.
          expires_in: String(expiresIn),
          ext_expires_in: String(expiresIn),
          expires_on: String(Math.floor(expiresAt / 1000)),
          not_before: String(Math.floor(this.clock.now() / 1000)),
          resource: PARTNER_CENTER_RESOURCE,
          access_token: token,
          ...refresh,
        }
      : {
          token_type: 'Bearer',
          scope: appOnly ? `${PARTNER_CENTER_RESOURCE}/.default` : GRANTED_SCOPE,
          expires_in: expiresIn,
          ext_expires_in: expiresIn,
          access_token: token,
          ...refresh,
        };
    return { status: 200, headers: NO_STORE, body };
  }

  /** Checks client_id and, when given or required, client_secret. Returns an error response or undefined. */
  private checkClient(form: Form, secretRequired: boolean): SimResponse | undefined {
    const clientId = form.get('client_id');
    if (!clientId) {
      return this.err(
        400,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'client_id'.",
      );
    }
    if (clientId.toLowerCase() !== this.credentials.clientId.toLowerCase()) {
      return this.err(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${this.credentials.tenantId}'.`,
      );
    }
    const secret = form.get('client_secret');
    if (secret === null) {
      if (!secretRequired) return undefined;
      return this.err(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }
    if (secret !== this.credentials.clientSecret) {
      return this.err(
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${this.credentials.clientId}'.`,
      );
    }
    return undefined;
  }

  /** Requested scope (v2) or resource (v1) must name Partner Center. */
  private checkScope(form: Form, v1: boolean, fallback?: string): SimResponse | string {
    if (v1) {
      const resource = form.get('resource');
      if (resource && resource.replace(/\/$/, '') === PARTNER_CENTER_RESOURCE) return PARTNER_CENTER_RESOURCE;
      return this.err(400, 'invalid_resource', 500011, `The resource principal named ${resource ?? ''} was not found.`);
    }
    const scope = form.get('scope') ?? fallback;
    if (!scope)
      return this.err(
        400,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'scope'.",
      );
    const scopes = scope.split(/\s+/);
    if (!scopes.some((s) => PC_SCOPES.includes(s.toLowerCase()))) {
      return this.err(
        400,
        'invalid_scope',
        70011,
        `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
      );
    }
    return scope;
  }

  private isRefreshTokenAlive(record: RefreshTokenRecord): boolean {
    return this.clock.now() - record.lastUsedAt < this.settings.refreshTokenInactivitySeconds * 1000;
  }

  /** POST /{tenant}/oauth2/v2.0/token (and the v1 /{tenant}/oauth2/token). */
  token(tenant: string, form: Form, v1: boolean): SimResponse {
    const grantType = form.get('grant_type') ?? '';
    if (!this.knownTenant(tenant, grantType !== 'client_credentials')) return this.tenantNotFound(tenant);
    if (!grantType) {
      return this.err(
        400,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'grant_type'.",
      );
    }
    switch (grantType) {
      case 'refresh_token':
        return this.refreshGrant(form, v1);
      case 'authorization_code':
        return this.authorizationCodeGrant(form, v1);
      case DEVICE_CODE_GRANT:
        return this.deviceCodeGrant(form);
      case 'client_credentials': {
        const clientError = this.checkClient(form, true) ?? this.scopeError(form, v1);
        return clientError ?? this.tokenResponse(false, v1, true);
      }
      default:
        return this.err(
          400,
          'unsupported_grant_type',
          70003,
          `The app requested an unsupported grant type '${grantType}'.`,
        );
    }
  }

  private scopeError(form: Form, v1: boolean): SimResponse | undefined {
    const scope = this.checkScope(form, v1);
    return typeof scope === 'string' ? undefined : scope;
  }

  private refreshGrant(form: Form, v1: boolean): SimResponse {
    const clientError = this.checkClient(form, true);
    if (clientError) return clientError;
    const scopeError = this.scopeError(form, v1);
    if (scopeError) return scopeError;
    const presented = form.get('refresh_token');
    if (!presented) {
      return this.err(
        400,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'refresh_token'.",
      );
    }
    const record = this.refreshTokens.get(hashToken(presented));
    if (!record || !this.isRefreshTokenAlive(record)) {
      return this.err(
        400,
        'invalid_grant',
        700082,
        `The refresh token has expired due to inactivity. The token was issued on ${new Date((record ?? { lastUsedAt: this.clock.now() }).lastUsedAt).toISOString()} and was inactive for ${Math.round(this.settings.refreshTokenInactivitySeconds / 86400)}.00:00:00.`,
      );
    }
    // Rotation as in Entra: a new refresh token comes back; the presented one stays valid (its inactivity restarts).
    record.lastUsedAt = this.clock.now();
    this.onChange();
    return this.tokenResponse(true, v1);
  }

  private authorizationCodeGrant(form: Form, v1: boolean): SimResponse {
    const clientError = this.checkClient(form, false);
    if (clientError) return clientError;
    const code = form.get('code') ?? '';
    const record = this.authCodes.get(code);
    if (!record || record.expiresAt <= this.clock.now()) {
      return this.err(
        400,
        'invalid_grant',
        70008,
        'The provided authorization code or refresh token has expired due to inactivity.',
      );
    }
    if (record.redeemed)
      return this.err(400, 'invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed.');
    if (form.get('redirect_uri') !== record.redirectUri) {
      return this.err(
        400,
        'invalid_grant',
        50011,
        "The 'redirect_uri' does not match the redirect URI used to request the authorization code.",
      );
    }
    const verifier = form.get('code_verifier') ?? '';
    if (createHash('sha256').update(verifier).digest('base64url') !== record.codeChallenge) {
      return this.err(
        400,
        'invalid_grant',
        50148,
        'The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.',
      );
    }
    record.redeemed = true;
    // As in Entra v2: a refresh token only when offline_access was requested.
    return this.tokenResponse(v1 || /\boffline_access\b/.test(record.scope), v1);
  }

  private deviceCodeGrant(form: Form): SimResponse {
    const clientError = this.checkClient(form, false);
    if (clientError) return clientError;
    const record = this.deviceCodes.get(form.get('device_code') ?? '');
    const now = this.clock.now();
    if (!record || record.redeemed) {
      return this.err(400, 'invalid_grant', 70000, 'The provided device code is invalid or was already used.');
    }
    if (record.expiresAt <= now)
      return this.err(
        400,
        'expired_token',
        70020,
        'The provided value for the input parameter device_code has expired.',
      );
    const auto = this.settings.deviceCodeAutoApproveSeconds;
    if (!record.approved && auto !== null && now - record.createdAt >= auto * 1000) record.approved = true;
    if (!record.approved) {
      return this.err(
        400,
        'authorization_pending',
        70016,
        'OAuth 2.0 device flow error. Authorization is pending. Continue polling.',
      );
    }
    record.redeemed = true;
    return this.tokenResponse(/\boffline_access\b/.test(record.scope), false);
  }

  /**
   * GET /{tenant}/oauth2/v2.0/authorize: the admin "consents" at once; 302 to the redirect URI with code and state.
   * Redirect URIs must be loopback (http://localhost or http://127.0.0.1, any port), like a native app registration.
   */
  authorize(tenant: string, query: URLSearchParams): SimResponse {
    if (!this.knownTenant(tenant, true)) return this.tenantNotFound(tenant);
    const clientId = query.get('client_id') ?? '';
    if (clientId.toLowerCase() !== this.credentials.clientId.toLowerCase()) {
      return this.err(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory.`,
      );
    }
    const redirectUri = query.get('redirect_uri') ?? '';
    let redirect: URL;
    try {
      redirect = new URL(redirectUri);
    } catch {
      return this.err(
        400,
        'invalid_request',
        50011,
        `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application.`,
      );
    }
    if (redirect.protocol !== 'http:' || !['localhost', '127.0.0.1'].includes(redirect.hostname)) {
      return this.err(
        400,
        'invalid_request',
        50011,
        `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application.`,
      );
    }
    const back = (params: Record<string, string>): SimResponse => {
      const target = new URL(redirect.toString());
      for (const [key, value] of Object.entries(params)) target.searchParams.set(key, value);
      const state = query.get('state');
      if (state !== null) target.searchParams.set('state', state);
      return { status: 302, headers: { Location: target.toString() } };
    };
    if (query.get('response_type') !== 'code') {
      return back({
        error: 'unsupported_response_type',
        error_description: 'AADSTS70005: response_type must be code.',
      });
    }
    const scope = query.get('scope') ?? '';
    if (!scope.split(/\s+/).some((s) => PC_SCOPES.includes(s.toLowerCase()))) {
      return back({
        error: 'invalid_scope',
        error_description: `AADSTS70011: The scope '${scope}' does not include Partner Center.`,
      });
    }
    const challenge = query.get('code_challenge');
    if (!challenge || query.get('code_challenge_method') !== 'S256') {
      return back({
        error: 'invalid_request',
        error_description: 'AADSTS501491: PKCE with code_challenge_method S256 is required.',
      });
    }
    const code = randomToken('simac.', 32);
    this.authCodes.set(code, {
      redirectUri,
      codeChallenge: challenge,
      scope,
      expiresAt: this.clock.now() + AUTH_CODE_LIFETIME_MS,
      redeemed: false,
    });
    return back({ code, session_state: randomUUID() });
  }

  /** POST /{tenant}/oauth2/v2.0/devicecode. */
  deviceCode(tenant: string, form: Form): SimResponse {
    if (!this.knownTenant(tenant, true)) return this.tenantNotFound(tenant);
    const clientError = this.checkClient(form, false);
    if (clientError) return clientError;
    const scope = this.checkScope(form, false);
    if (typeof scope !== 'string') return scope;
    const deviceCode = randomToken('simdc.', 32);
    // Entra's user codes are 9 upper-case letters and digits.
    const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
    const userCode = Array.from(randomBytes(9), (b) => alphabet[b % alphabet.length]).join('');
    const now = this.clock.now();
    const lifetime = this.settings.deviceCodeLifetimeSeconds;
    this.deviceCodes.set(deviceCode, {
      userCode,
      scope,
      createdAt: now,
      expiresAt: now + lifetime * 1000,
      approved: false,
      redeemed: false,
    });
    this.deviceCodesByUserCode.set(userCode, deviceCode);
    const verificationUri = `${this.baseUrl}/devicelogin`;
    return {
      status: 200,
      headers: NO_STORE,
      body: {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: verificationUri,
        expires_in: lifetime,
        interval: 1,
        message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${userCode} to authenticate.`,
      },
    };
  }

  /** The user "approves" a device code (admin API). False when the user code is unknown. */
  approveDeviceCode(userCode: string): boolean {
    const deviceCode = this.deviceCodesByUserCode.get(userCode.toUpperCase());
    const record = deviceCode ? this.deviceCodes.get(deviceCode) : undefined;
    if (!record) return false;
    record.approved = true;
    return true;
  }

  /** Validates `Authorization: Bearer ...` for a Partner Center call. */
  authenticate(authorization: string | undefined): Caller | SimResponse {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '');
    if (!match) return PC_ERRORS.tokenMissing();
    const record = this.accessTokens.get(match[1]);
    if (!record) return PC_ERRORS.tokenMissing();
    if (record.expiresAt <= this.clock.now()) return PC_ERRORS.tokenExpired();
    return { tenantId: record.tenantId, appOnly: record.appOnly, mfa: record.mfa };
  }

  /** Makes one access token expired (the token-expiry fault). */
  expireAccessToken(authorization: string | undefined): void {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '');
    const record = match ? this.accessTokens.get(match[1]) : undefined;
    if (record) record.expiresAt = Math.min(record.expiresAt, this.clock.now());
  }

  /** Every access token issued so far is expired from now on. Returns how many. */
  expireAllAccessTokens(): number {
    const now = this.clock.now();
    for (const record of this.accessTokens.values()) record.expiresAt = Math.min(record.expiresAt, now);
    return this.accessTokens.size;
  }

  /** Every refresh token issued so far (the startup one included) is dead: the next refresh is invalid_grant. */
  expireAllRefreshTokens(): number {
    const count = this.refreshTokens.size;
    this.refreshTokens.clear();
    this.onChange();
    return count;
  }

  /** Refresh-token state for a state file: token hashes and their last use (no usable token). */
  exportRefreshTokens(): Array<[string, { lastUsedAt: number }]> {
    return [...this.refreshTokens.entries()].map(([hash, record]) => [hash, { ...record }]);
  }

  importRefreshTokens(entries: Array<[string, { lastUsedAt: number }]>): void {
    for (const [hash, record] of entries) {
      const current = this.refreshTokens.get(hash);
      this.refreshTokens.set(hash, { lastUsedAt: Math.max(record.lastUsedAt, current?.lastUsedAt ?? 0) });
    }
  }

  stats(): { accessTokens: number; refreshTokens: number; pendingDeviceCodes: number } {
    let pending = 0;
    for (const record of this.deviceCodes.values()) if (!record.redeemed) pending++;
    return {
      accessTokens: this.accessTokens.size,
      refreshTokens: this.refreshTokens.size,
      pendingDeviceCodes: pending,
    };
  }
}
