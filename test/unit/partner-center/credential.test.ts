import {
  ClientCredentialInvalidError,
  MissingSecretError,
  PARTNER_CENTER_SCOPE,
  RefreshTokenInvalidError,
  SecureAppModelCredential,
  TokenEndpointError,
  type SecureAppModelCredentialOptions,
} from '../../../shared/partner-center';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import { latch } from '../../helpers/latch';
import { MemorySecretStore } from '../../helpers/memory-secret-store';
import { json, loopback, type Handler, type Loopback } from './loopback';

const TENANT = '5f1a3c2e-7b9d-4e6f-8a1b-2c3d4e5f6a7b';
const CLIENT = '0c9b8a7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d';
const SECRET = 'client-secret-value-123';
const RT0 = 'refresh-token-value-000';

let server: Loopback;
afterEach(async () => server?.close());

/**
 * A token endpoint that rotates the refresh token: rt-N in, rt-(N+1) out; access tokens at-N. With `held`, it answers
 * only once that opens (a slow endpoint the test controls).
 */
function rotating(options: { expiresIn?: number; held?: Promise<void>; arrived?: () => void } = {}): Handler {
  let issued = 0;
  return (_req, res) => {
    issued++;
    options.arrived?.();
    const answer = () =>
      json(res, 200, {
        token_type: 'Bearer',
        scope: PARTNER_CENTER_SCOPE,
        expires_in: options.expiresIn ?? 3600,
        access_token: `access-token-value-${issued}`,
        refresh_token: `refresh-token-value-${String(issued).padStart(3, '0')}`,
      });
    if (options.held) void options.held.then(answer);
    else answer();
  };
}

async function setup(handler: Handler, options: Partial<SecureAppModelCredentialOptions> = {}) {
  server = await loopback(handler);
  const store = new MemorySecretStore({ PARTNER_CENTER_CLIENT_SECRET: SECRET, PARTNER_CENTER_REFRESH_TOKEN: RT0 });
  const logs: unknown[] = [];
  const telemetry = new RecordingTelemetry();
  const credential = new SecureAppModelCredential({
    tenantId: TENANT,
    clientId: CLIENT,
    authorityHost: `${server.url}/`,
    secretStore: store,
    logger: (level, message, props) => logs.push({ level, message, props }),
    telemetry,
    retryDelay: { baseMs: 5, maxMs: 10 },
    ...options,
  });
  return { credential, store, logs, telemetry };
}

const entraError = (status: number, error: string, code: number) => (_req: unknown, res: Parameters<Handler>[1]) =>
  json(res, status, {
    error,
    error_description: `AADSTS${code}: Something failed. Trace ID: t-1 Correlation ID: c-1 Timestamp: 2026-01-01 00:00:00Z`,
    error_codes: [code],
    trace_id: 't-1',
  });

describe('SecureAppModelCredential', () => {
  it('redeems the refresh token with the documented form at the tenant token endpoint', async () => {
    const { credential } = await setup(rotating());
    const token = await credential.getToken(PARTNER_CENTER_SCOPE);
    expect(token.token).toBe('access-token-value-1');
    const sent = server.requests[0];
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe(`/${TENANT}/oauth2/v2.0/token`);
    expect(sent.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(sent.body))).toEqual({
      grant_type: 'refresh_token',
      client_id: CLIENT,
      client_secret: SECRET,
      refresh_token: RT0,
      scope: PARTNER_CENTER_SCOPE,
    });
  });

  it('refuses other scopes', async () => {
    const { credential } = await setup(rotating());
    await expect(credential.getToken('https://graph.microsoft.com/.default')).rejects.toThrow(/only/);
  });

  it('50 concurrent calls on a cold cache make exactly one token request', async () => {
    const answer = latch();
    const { credential } = await setup(rotating({ held: answer.promise }));
    const calls = Array.from({ length: 50 }, () => credential.getToken(PARTNER_CENTER_SCOPE));
    answer.open(); // every call has been made before the endpoint answers
    const tokens = await Promise.all(calls);
    expect(new Set(tokens.map((t) => t.token))).toEqual(new Set(['access-token-value-1']));
    expect(server.requests).toHaveLength(1);
  });

  it('reuses the access token until the margin before expiry, then refreshes with the newest refresh token', async () => {
    let now = Date.UTC(2026, 0, 1);
    const { credential } = await setup(rotating({ expiresIn: 3600 }), { now: () => now, refreshMarginMs: 300_000 });
    const first = await credential.getToken(PARTNER_CENTER_SCOPE);
    expect(first.expiresOnTimestamp).toBe(now + 3_600_000);
    now += 3_600_000 - 300_001;
    expect((await credential.getToken(PARTNER_CENTER_SCOPE)).token).toBe(first.token);
    now += 2;
    expect((await credential.getToken(PARTNER_CENTER_SCOPE)).token).toBe('access-token-value-2');
    expect(server.requests).toHaveLength(2);
    expect(new URLSearchParams(server.requests[1].body).get('refresh_token')).toBe('refresh-token-value-001');
  });

  it('writes the rotated refresh token back without making the caller wait', async () => {
    const { credential, store } = await setup(rotating());
    let release!: () => void;
    store.holdSets = new Promise<void>((resolve) => (release = resolve));
    await credential.getToken(PARTNER_CENTER_SCOPE); // resolves while the write is still held
    expect(store.writes).toEqual([]);
    release();
    await credential.flushRefreshTokenWrite();
    // Tagged with the generation it was rotated from (RT0 was stored without a tag, by an unknown time: 0).
    expect(store.writes).toEqual([
      { name: 'PARTNER_CENTER_REFRESH_TOKEN', value: 'refresh-token-value-001', tags: { 'consent-generation': '0' } },
    ]);
  });

  it('logs a failed write-back, keeps the newest token in memory, and writes it at the next refresh', async () => {
    let now = Date.UTC(2026, 0, 1);
    const { credential, store, logs } = await setup(rotating({ expiresIn: 600 }), { now: () => now });
    let release!: () => void;
    store.holdSets = new Promise<void>((resolve) => (release = resolve));
    store.failNextSets = 1;
    await credential.getToken(PARTNER_CENTER_SCOPE);
    const flushed = credential.flushRefreshTokenWrite(); // joins the background write, which fails
    release();
    await expect(flushed).rejects.toThrow(/could not be written back/);
    expect(store.values.get('PARTNER_CENTER_REFRESH_TOKEN')).toBe(RT0);
    expect(JSON.stringify(logs)).toMatch(/Could not store the rotated/);
    now += 600_000;
    await credential.getToken(PARTNER_CENTER_SCOPE);
    await credential.flushRefreshTokenWrite();
    expect(new URLSearchParams(server.requests[1].body).get('refresh_token')).toBe('refresh-token-value-001');
    expect(store.values.get('PARTNER_CENTER_REFRESH_TOKEN')).toBe('refresh-token-value-002');
  });

  it('invalid_grant → RefreshTokenInvalidError telling the operator to consent again; no secret anywhere', async () => {
    const { credential, logs, telemetry } = await setup(entraError(400, 'invalid_grant', 700082));
    const error = (await credential
      .getToken(PARTNER_CENTER_SCOPE)
      .catch((e: unknown) => e)) as RefreshTokenInvalidError;
    expect(error).toBeInstanceOf(RefreshTokenInvalidError);
    expect(error.category).toBe('auth');
    expect(error.aadErrorCodes).toEqual([700082]);
    expect(error.message).toContain('npm run consent');
    expect(error.message).toContain('AADSTS700082');
    expect(server.requests).toHaveLength(1); // a 400 is not retried
    expect(telemetry.events.map((e) => e.name)).toEqual(['RefreshTokenInvalid']);
    for (const text of [error.message, JSON.stringify(logs), JSON.stringify(telemetry.events)]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(RT0);
    }
  });

  it('after invalid_grant, retries once with a different token an operator stored meanwhile', async () => {
    // The endpoint knows RT0 and the operator's new token; the token rotated from RT0 is dead (e.g. revoked).
    const { credential, store } = await setup((req, res) => {
      const presented = new URLSearchParams(req.body).get('refresh_token');
      if (presented === RT0)
        return json(res, 200, { access_token: 'access-1', expires_in: 3600, refresh_token: 'rt-dead' });
      if (presented === 'rt-after-consent') return json(res, 200, { access_token: 'access-2', expires_in: 3600 });
      return entraError(400, 'invalid_grant', 700082)(req, res);
    });
    store.failNextSets = 1; // the rotated token never reaches the store
    const first = await credential.getToken(PARTNER_CENTER_SCOPE);
    await credential.flushRefreshTokenWrite();
    store.values.set('PARTNER_CENTER_REFRESH_TOKEN', 'rt-after-consent'); // `npm run consent` ran meanwhile
    credential.invalidateAccessToken(first.token);
    expect((await credential.getToken(PARTNER_CENTER_SCOPE)).token).toBe('access-2');
    expect(server.requests.map((r) => new URLSearchParams(r.body).get('refresh_token'))).toEqual([
      RT0,
      'rt-dead',
      'rt-after-consent',
    ]);
  });

  it('a refresh uses a newer consent from the store at once, and writes its rotation back with its generation', async () => {
    let now = Date.UTC(2026, 0, 1);
    const { credential, store } = await setup(rotating({ expiresIn: 600 }), { now: () => now });
    await credential.getToken(PARTNER_CENTER_SCOPE);
    await credential.flushRefreshTokenWrite();
    // `npm run consent` stores a new consent's token with a newer generation
    await store.set('PARTNER_CENTER_REFRESH_TOKEN', 'rt-new-consent', { 'consent-generation': '1767225600000.ab' });
    now += 600_000;
    await credential.getToken(PARTNER_CENTER_SCOPE);
    await credential.flushRefreshTokenWrite();
    expect(server.requests.map((r) => new URLSearchParams(r.body).get('refresh_token'))).toEqual([
      RT0,
      'rt-new-consent',
    ]);
    expect(store.writes.at(-1)).toEqual({
      name: 'PARTNER_CENTER_REFRESH_TOKEN',
      value: 'refresh-token-value-002',
      tags: { 'consent-generation': '1767225600000.ab' },
    });
  });

  it('after invalid_grant, a token of the refused chain is not tried again, and nothing of it is written', async () => {
    let now = Date.UTC(2026, 0, 1);
    let revoked = false;
    const ok = rotating({ expiresIn: 600 });
    const { credential, store } = await setup(
      (req, res, index) => (revoked ? entraError(400, 'invalid_grant', 700082)(req, res) : ok(req, res, index)),
      { now: () => now },
    );
    let release!: () => void;
    store.holdSets = new Promise<void>((resolve) => (release = resolve));
    store.failNextSets = 1;
    await credential.getToken(PARTNER_CENTER_SCOPE); // RT0 → 001, whose write-back fails: 001 stays pending
    const firstWrite = credential.flushRefreshTokenWrite();
    release();
    await expect(firstWrite).rejects.toThrow(/could not be written back/);
    revoked = true; // an admin revoked the consenting user's sessions
    now += 600_000;
    await expect(credential.getToken(PARTNER_CENTER_SCOPE)).rejects.toBeInstanceOf(RefreshTokenInvalidError);
    expect(server.requests).toHaveLength(2); // 001 refused; RT0, its ancestor still in the store, not tried
    await credential.flushRefreshTokenWrite(); // the pending 001 was dropped: nothing to write
    expect(store.writes).toEqual([]);
    expect(store.values.get('PARTNER_CENTER_REFRESH_TOKEN')).toBe(RT0);
  });

  it('after a refusal, fails fast without asking Entra ID again until the store changes or the backoff ends', async () => {
    let now = Date.UTC(2026, 0, 1);
    const { credential, store, telemetry } = await setup(
      (req, res) =>
        new URLSearchParams(req.body).get('refresh_token') === 'rt-new-consent'
          ? json(res, 200, { access_token: 'access-ok', expires_in: 3600 })
          : entraError(400, 'invalid_grant', 700082)(req, res),
      { now: () => now, refusalBackoffMs: 60_000 },
    );
    const first = await credential.getToken(PARTNER_CENTER_SCOPE).catch((e: unknown) => e);
    const again = await credential.getToken(PARTNER_CENTER_SCOPE).catch((e: unknown) => e);
    expect(again).toBe(first);
    expect(server.requests).toHaveLength(1);
    expect(telemetry.events).toHaveLength(1);

    now += 60_000;
    await expect(credential.getToken(PARTNER_CENTER_SCOPE)).rejects.toBeInstanceOf(RefreshTokenInvalidError);
    expect(server.requests).toHaveLength(2);

    store.values.set('PARTNER_CENTER_REFRESH_TOKEN', 'rt-new-consent'); // the operator ran the consent
    expect((await credential.getToken(PARTNER_CENTER_SCOPE)).token).toBe('access-ok');
    expect(server.requests).toHaveLength(3);
  });

  it('invalid_client → ClientCredentialInvalidError, not retried, secret not shown', async () => {
    const { credential, telemetry } = await setup(entraError(401, 'invalid_client', 7000215));
    const error = (await credential.getToken(PARTNER_CENTER_SCOPE).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ClientCredentialInvalidError);
    expect(error.message).toContain('PARTNER_CENTER_CLIENT_SECRET');
    expect(error.message).not.toContain(SECRET);
    expect(server.requests).toHaveLength(1);
    expect(telemetry.events.map((e) => e.name)).toEqual(['PartnerCenterAuthFailed']);
  });

  it('retries 5xx at the token endpoint, then gives a transient TokenEndpointError', async () => {
    const { credential } = await setup(entraError(503, 'temporarily_unavailable', 90033), { maxAttempts: 3 });
    const error = await credential.getToken(PARTNER_CENTER_SCOPE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenEndpointError);
    expect(error).toMatchObject({ category: 'transient', status: 503 });
    expect(server.requests).toHaveLength(3);
  });

  it('recovers from one 5xx', async () => {
    const ok = rotating();
    const { credential } = await setup((req, res, index) =>
      index === 0 ? entraError(500, 'server_error', 90033)(req, res) : ok(req, res, index),
    );
    expect((await credential.getToken(PARTNER_CENTER_SCOPE)).token).toBe('access-token-value-1');
  });

  it('keeps serving a still-valid token when a refresh inside the margin fails transiently', async () => {
    let now = Date.UTC(2026, 0, 1);
    const ok = rotating();
    const { credential } = await setup(
      (req, res, index) =>
        index === 0 ? ok(req, res, index) : entraError(503, 'temporarily_unavailable', 90033)(req, res),
      { now: () => now, maxAttempts: 1 },
    );
    const first = await credential.getToken(PARTNER_CENTER_SCOPE);
    now += 3_600_000 - 60_000; // inside the 5-minute margin, a minute before expiry
    expect((await credential.getToken(PARTNER_CENTER_SCOPE)).token).toBe(first.token);
  });

  it('a missing refresh token names the setting and the consent command', async () => {
    const { credential, store } = await setup(rotating());
    store.values.delete('PARTNER_CENTER_REFRESH_TOKEN');
    const error = (await credential.getToken(PARTNER_CENTER_SCOPE).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(MissingSecretError);
    expect(error.message).toMatch(/PARTNER_CENTER_REFRESH_TOKEN.*npm run consent/);
    expect(server.requests).toHaveLength(0);
  });

  it('invalidateAccessToken forces the next call to refresh, only for the refused token', async () => {
    const { credential } = await setup(rotating());
    const first = await credential.getToken(PARTNER_CENTER_SCOPE);
    credential.invalidateAccessToken('some-other-token');
    expect((await credential.getToken(PARTNER_CENTER_SCOPE)).token).toBe(first.token);
    credential.invalidateAccessToken(first.token);
    expect((await credential.getToken(PARTNER_CENTER_SCOPE)).token).toBe('access-token-value-2');
  });

  it("a caller's abort stops its own wait but not the shared refresh", async () => {
    const [arrived, answer] = [latch(), latch()];
    const { credential } = await setup(rotating({ held: answer.promise, arrived: arrived.open }));
    const caller = new AbortController();
    const aborted = credential.getToken(PARTNER_CENTER_SCOPE, { abortSignal: caller.signal });
    const patient = credential.getToken(PARTNER_CENTER_SCOPE);
    await arrived.promise;
    caller.abort(); // while the token request is out, unanswered
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    answer.open();
    expect((await patient).token).toBe('access-token-value-1');
    expect(server.requests).toHaveLength(1);
  });
});
