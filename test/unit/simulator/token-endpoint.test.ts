import { startSimulator, steppedClock, type RunningSimulator, type SteppedClock } from '../../../dev/simulator';
import { PC_SCOPE, pc, refreshGrant } from './helpers';

const CUSTOMER = '00000000-0000-4000-8000-000000000001';

describe('simulator token endpoint (Entra refresh-token grant)', () => {
  let sim: RunningSimulator;
  let clock: SteppedClock;

  beforeEach(async () => {
    clock = steppedClock('2026-03-01T00:00:00Z');
    sim = await startSimulator({ port: 0, clock });
  });
  afterEach(() => sim.close());

  it('issues a bearer token with expires_in and a rotated refresh token; the old one stays valid', async () => {
    const first = await refreshGrant(sim);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, ext_expires_in: 3600 });
    expect(typeof first.body.access_token).toBe('string');
    expect(typeof first.body.scope).toBe('string');
    const rotated = first.body.refresh_token as string;
    expect(rotated).toBeTruthy();
    expect(rotated).not.toBe(sim.credentials.refreshToken);

    const withRotated = await refreshGrant(sim, { refresh_token: rotated });
    expect(withRotated.status).toBe(200);
    const withOriginal = await refreshGrant(sim);
    expect(withOriginal.status).toBe(200);

    const eligibility = await pc(
      sim,
      '/v1/productUpgrades/eligibility',
      { customerId: CUSTOMER, productFamily: 'Azure' },
      { token: withRotated.body.access_token as string },
    );
    expect(eligibility.status).toBe(200);
    expect(sim.state.counters().tokenRequests).toMatchObject({ total: 3, succeeded: 3 });
  });

  it('answers an unknown refresh token with 400 invalid_grant AADSTS700082', async () => {
    const reply = await refreshGrant(sim, { refresh_token: 'not-a-token' });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe('invalid_grant');
    expect(reply.body.error_description).toMatch(/^AADSTS700082: The refresh token has expired due to inactivity/);
    expect(reply.body.error_codes).toEqual([700082]);
  });

  it('expires a refresh token after 90 days unused on the simulated clock, not before', async () => {
    clock.advance(89 * 86400_000);
    const alive = await refreshGrant(sim);
    expect(alive.status).toBe(200);
    const fresh = alive.body.refresh_token as string;
    clock.advance(90 * 86400_000 + 1000);
    expect((await refreshGrant(sim)).body.error).toBe('invalid_grant');
    expect((await refreshGrant(sim, { refresh_token: fresh })).body.error).toBe('invalid_grant');
  });

  it('answers a wrong client secret with 401 invalid_client AADSTS7000215', async () => {
    const reply = await refreshGrant(sim, { client_secret: 'wrong' });
    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('invalid_client');
    expect(reply.body.error_description).toMatch(/^AADSTS7000215: Invalid client secret provided/);
    expect(JSON.stringify(reply.body)).not.toContain(sim.credentials.clientSecret);
  });

  it('answers an unknown tenant with 400 AADSTS90002 and a wrong scope with invalid_scope', async () => {
    const tenant = await refreshGrant(sim, {}, '11111111-2222-4333-8444-555555555555');
    expect(tenant.status).toBe(400);
    expect(tenant.body.error_description).toMatch(
      /^AADSTS90002: Tenant '11111111-2222-4333-8444-555555555555' not found/,
    );
    const scope = await refreshGrant(sim, { scope: 'https://graph.microsoft.com/.default' });
    expect(scope.status).toBe(400);
    expect(scope.body.error).toBe('invalid_scope');
    expect((await refreshGrant(sim, { scope: PC_SCOPE })).status).toBe(200);
  });

  it('access tokens carry the MFA claim; without it the operations answer 401 900421', async () => {
    const claims = (token: string): { amr?: string[]; tid?: string; aud?: string } =>
      JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
    const withMfa = (await refreshGrant(sim)).body.access_token as string;
    expect(claims(withMfa)).toMatchObject({
      amr: ['pwd', 'mfa'],
      tid: sim.credentials.tenantId,
      aud: 'https://api.partnercenter.microsoft.com',
    });
    sim.state.setTokenSettings({ mfa: false });
    const withoutMfa = (await refreshGrant(sim)).body.access_token as string;
    expect(claims(withoutMfa).amr).toEqual(['pwd']);
    const body = { customerId: CUSTOMER, productFamily: 'Azure' };
    const refused = await pc(sim, '/v1/productUpgrades/eligibility', body, { token: withoutMfa });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 900421 });
    expect((await pc(sim, '/v1/productUpgrades/eligibility', body, { token: withMfa })).status).toBe(200);
  });

  it('access tokens expire after expires_in on the simulated clock (401 800001)', async () => {
    const token = (await refreshGrant(sim)).body.access_token as string;
    const body = { customerId: CUSTOMER, productFamily: 'Azure' };
    clock.advance(3599_000);
    expect((await pc(sim, '/v1/productUpgrades/eligibility', body, { token })).status).toBe(200);
    clock.advance(1000);
    const expired = await pc(sim, '/v1/productUpgrades/eligibility', body, { token });
    expect(expired.status).toBe(401);
    expect(await expired.json()).toMatchObject({ code: 800001 });
  });
});

describe('simulator request log', () => {
  it('logs one line per request without any token, secret or code', async () => {
    const lines: string[] = [];
    const sim = await startSimulator({ port: 0, quiet: false, log: (line) => lines.push(line) });
    try {
      const grant = await refreshGrant(sim);
      const token = grant.body.access_token as string;
      await pc(sim, '/v1/productUpgrades/eligibility', { customerId: CUSTOMER, productFamily: 'Azure' }, { token });
      await fetch(
        `${sim.url}/${sim.credentials.tenantId}/oauth2/v2.0/authorize?client_id=${sim.credentials.clientId}&response_type=code&redirect_uri=http://localhost:1/cb&scope=${PC_SCOPE}&code_challenge=abc&code_challenge_method=S256`,
        { redirect: 'manual' },
      );
      expect(lines).toHaveLength(3);
      expect(lines[1]).toMatch(/POST \/v1\/productUpgrades\/eligibility -> 200/);
      const all = lines.join('\n');
      for (const secret of [
        token,
        grant.body.refresh_token as string,
        sim.credentials.clientSecret,
        sim.credentials.refreshToken,
        'code=',
      ]) {
        expect(all).not.toContain(secret);
      }
    } finally {
      await sim.close();
    }
  });
});
