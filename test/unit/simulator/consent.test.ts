import { createHash, randomBytes } from 'node:crypto';
import { startSimulator, steppedClock, type RunningSimulator, type SteppedClock } from '../../../dev/simulator';
import { admin, json, pc, PC_SCOPE, refreshGrant } from './helpers';

const CUSTOMER = '00000000-0000-4000-8000-000000000001';
const SCOPE = `${PC_SCOPE} offline_access`;

async function postForm(
  sim: RunningSimulator,
  path: string,
  form: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${sim.url}/${sim.credentials.tenantId}/oauth2/v2.0/${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('simulator consent endpoints (authorization code + PKCE, device code)', () => {
  let sim: RunningSimulator;
  let clock: SteppedClock;

  beforeEach(async () => {
    clock = steppedClock();
    sim = await startSimulator({ port: 0, clock });
  });
  afterEach(() => sim.close());

  const authorize = (params: Record<string, string>): Promise<Response> =>
    fetch(`${sim.url}/${sim.credentials.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams(params).toString()}`, {
      redirect: 'manual',
    });

  it('auto-consents: 302 to the loopback redirect with code and state; the code + verifier give a usable refresh token', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const redirectUri = 'http://localhost:53123/callback';
    const response = await authorize({
      client_id: sim.credentials.clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: SCOPE,
      state: 'xyz-state',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
    expect(location.searchParams.get('state')).toBe('xyz-state');
    const code = location.searchParams.get('code')!;

    const exchange = {
      grant_type: 'authorization_code',
      client_id: sim.credentials.clientId,
      code,
      redirect_uri: redirectUri,
      scope: SCOPE,
    };
    const wrongVerifier = await postForm(sim, 'token', { ...exchange, code_verifier: 'nope' });
    expect(wrongVerifier.status).toBe(400);
    expect(wrongVerifier.body.error).toBe('invalid_grant');

    const tokens = await postForm(sim, 'token', { ...exchange, code_verifier: verifier });
    expect(tokens.status).toBe(200);
    expect(tokens.body.refresh_token).toBeTruthy();
    const replay = await postForm(sim, 'token', { ...exchange, code_verifier: verifier });
    expect(replay.body.error).toBe('invalid_grant');

    // The app then uses the consented refresh token with its secret.
    const refreshed = await refreshGrant(sim, { refresh_token: tokens.body.refresh_token as string });
    expect(refreshed.status).toBe(200);
    const check = await pc(
      sim,
      '/v1/productUpgrades/eligibility',
      { customerId: CUSTOMER, productFamily: 'Azure' },
      { token: refreshed.body.access_token as string },
    );
    expect(check.status).toBe(200);
    expect(await json(check)).toMatchObject({ isEligible: true });
  });

  it('refuses a non-loopback redirect URI without redirecting, and requires PKCE S256', async () => {
    const base = { client_id: sim.credentials.clientId, response_type: 'code', scope: SCOPE, state: 's' };
    const evil = await authorize({
      ...base,
      redirect_uri: 'https://evil.example/cb',
      code_challenge: 'x',
      code_challenge_method: 'S256',
    });
    expect(evil.status).toBe(400);
    expect(evil.headers.get('location')).toBeNull();
    const noPkce = await authorize({ ...base, redirect_uri: 'http://127.0.0.1:9999/' });
    expect(noPkce.status).toBe(302);
    const location = new URL(noPkce.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('state')).toBe('s');
  });

  it('device code: authorization_pending until approved through the admin API, then tokens', async () => {
    await admin(sim, 'PUT', '/tokens/settings', { deviceCodeAutoApproveSeconds: null });
    const start = await postForm(sim, 'devicecode', { client_id: sim.credentials.clientId, scope: SCOPE });
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({
      expires_in: 900,
      interval: expect.any(Number),
      verification_uri: `${sim.url}/devicelogin`,
    });
    expect(start.body.message).toContain(start.body.user_code as string);
    const poll = {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      client_id: sim.credentials.clientId,
      device_code: start.body.device_code as string,
    };
    const pending = await postForm(sim, 'token', poll);
    expect(pending.status).toBe(400);
    expect(pending.body.error).toBe('authorization_pending');
    expect(await admin(sim, 'POST', `/devicecode/${start.body.user_code as string}/approve`)).toMatchObject({
      approved: start.body.user_code,
    });
    const tokens = await postForm(sim, 'token', poll);
    expect(tokens.status).toBe(200);
    expect((await refreshGrant(sim, { refresh_token: tokens.body.refresh_token as string })).status).toBe(200);
  });

  it('device code approves itself after the configured simulated seconds, and expires', async () => {
    await admin(sim, 'PUT', '/tokens/settings', { deviceCodeAutoApproveSeconds: 5 });
    const start = await postForm(sim, 'devicecode', { client_id: sim.credentials.clientId, scope: SCOPE });
    const poll = {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      client_id: sim.credentials.clientId,
      device_code: start.body.device_code as string,
    };
    expect((await postForm(sim, 'token', poll)).body.error).toBe('authorization_pending');
    clock.advance(5000);
    expect((await postForm(sim, 'token', poll)).status).toBe(200);

    await admin(sim, 'PUT', '/tokens/settings', { deviceCodeAutoApproveSeconds: null });
    const late = await postForm(sim, 'devicecode', { client_id: sim.credentials.clientId, scope: SCOPE });
    clock.advance(901_000);
    const expired = await postForm(sim, 'token', { ...poll, device_code: late.body.device_code as string });
    expect(expired.body.error).toBe('expired_token');
  });

  it('app-only tokens (client credentials) are refused by the upgrade operations: 403 900329', async () => {
    const tokens = await postForm(sim, 'token', {
      grant_type: 'client_credentials',
      client_id: sim.credentials.clientId,
      client_secret: sim.credentials.clientSecret,
      scope: PC_SCOPE,
    });
    expect(tokens.status).toBe(200);
    expect(tokens.body.refresh_token).toBeUndefined();
    const check = await pc(
      sim,
      '/v1/productUpgrades/eligibility',
      { customerId: CUSTOMER, productFamily: 'Azure' },
      { token: tokens.body.access_token as string },
    );
    expect(check.status).toBe(403);
    expect(await json(check)).toMatchObject({ code: 900329 });
  });
});
