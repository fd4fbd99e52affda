import { stackSettings } from '../../../dev/stack';
import { loadConfig } from '../../../shared/config';
import {
  compareGenerations,
  createPartnerCenterClient,
  generationOf,
  MissingSecretError,
  parseGeneration,
  RefreshTokenInvalidError,
  RefreshTokenOwner,
} from '../../../shared/partner-center';
import { createSecretStore, KeyVaultSecretStore, silentSecretsLogger } from '../../../shared/secrets';
import { startSimulator, type RunningSimulator } from '../../../dev/simulator';
import { ConsentError, runConsent } from '../../../scripts/consent/consent';
import { FakeKeyVaultServer, FakeTokenCredential, fakeVaultClientOptions } from '../../fakes/key-vault-server';
import { consentBrowser } from '../../helpers/consent-browser';
import { MemorySecretStore } from '../../helpers/memory-secret-store';

const browser = consentBrowser;

/** No app write-back is under way in these tests: the check of the consent's own write runs at once. */
const settled = (): Promise<void> => Promise.resolve();
const clientOptions = fakeVaultClientOptions(1);

async function setMfa(sim: RunningSimulator, mfa: boolean): Promise<void> {
  const response = await fetch(`${sim.url}/_sim/tokens/settings`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mfa }),
  });
  expect(response.status).toBe(200);
}

describe('npm run consent against the Partner Center simulator', () => {
  let sim: RunningSimulator;
  let eligibleCustomer: string;
  const said: string[] = [];
  const say = (line: string): void => {
    said.push(line);
  };

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    eligibleCustomer = sim.scenario.customers.find((c) => !c.ineligibleReason)!.id;
  });
  afterAll(async () => {
    await sim.close();
  });
  beforeEach(() => {
    said.length = 0;
  });

  function appConfig(keyVaultUrl?: string) {
    return loadConfig(
      stackSettings(
        { storage: 'UseDevelopmentStorage=true', partnerCenter: sim },
        { PARTNER_CENTER_MAX_ATTEMPTS: '1', KEY_VAULT_URL: keyVaultUrl ?? '' },
      ),
    );
  }

  const authority = () => ({
    tenantId: sim.credentials.tenantId,
    clientId: sim.credentials.clientId,
    authorityHost: sim.url,
  });

  it('authorization code + PKCE: stores a refresh token the app then uses for an eligibility check', async () => {
    const store = new MemorySecretStore({ PARTNER_CENTER_CLIENT_SECRET: sim.credentials.clientSecret });
    const app = createPartnerCenterClient(appConfig(), store);
    // Before the consent the app has no refresh token and cannot call Partner Center.
    await expect(app.checkEligibility({ customerId: eligibleCustomer, productFamily: 'Azure' })).rejects.toBeInstanceOf(
      MissingSecretError,
    );

    const result = await runConsent({
      ...authority(),
      flow: 'authorization-code',
      clientSecret: sim.credentials.clientSecret,
      store,
      say,
      openUrl: browser,
      settle: settled,
    });

    expect(result).toMatchObject({ storedIn: 'memory', mfa: true, verified: true });
    expect(store.values.get('PARTNER_CENTER_REFRESH_TOKEN')).toBe(result.refreshToken);
    expect(store.writes.at(-1)?.tags).toEqual({ 'consent-generation': result.generation });
    expect(result.refreshToken).not.toBe(sim.credentials.refreshToken); // a new one, from this consent
    const signInUrl = new URL(said.find((line) => line.includes('/oauth2/v2.0/authorize'))!.trim());
    expect(signInUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(signInUrl.searchParams.get('scope')).toBe('https://api.partnercenter.microsoft.com/.default offline_access');
    expect(said.join('\n')).not.toContain(result.refreshToken);

    const eligibility = await createPartnerCenterClient(appConfig(), store).checkEligibility({
      customerId: eligibleCustomer,
      productFamily: 'Azure',
    });
    expect(eligibility).toMatchObject({ customerId: eligibleCustomer, isEligible: true });
  });

  it('device code: polls while authorization is pending, then stores the token once the admin approves', async () => {
    await fetch(`${sim.url}/_sim/tokens/settings`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deviceCodeAutoApproveSeconds: null }),
    });
    const store = new MemorySecretStore({ PARTNER_CENTER_CLIENT_SECRET: sim.credentials.clientSecret });
    let polls = 0;
    const sleep = async (): Promise<void> => {
      polls++;
      if (polls === 3) {
        const userCode = /enter the code (\w+)/.exec(said.join('\n'))![1];
        const approved = await fetch(`${sim.url}/_sim/devicecode/${userCode}/approve`, { method: 'POST' });
        expect(approved.status).toBe(200);
      }
    };

    const result = await runConsent({ ...authority(), flow: 'device-code', store, say, sleep, settle: settled });

    expect(polls).toBe(3); // two polls answered authorization_pending, the third got the tokens
    expect(result).toMatchObject({ storedIn: 'memory', mfa: true, verified: undefined });
    expect(store.values.get('PARTNER_CENTER_REFRESH_TOKEN')).toBe(result.refreshToken);
    const eligibility = await createPartnerCenterClient(appConfig(), store).checkEligibility({
      customerId: eligibleCustomer,
      productFamily: 'Azure',
    });
    expect(eligibility.isEligible).toBe(true);
  });

  it('Key Vault: replaces the placeholder infra creates; the app reads the new token through its secret store', async () => {
    const vault = await new FakeKeyVaultServer().start();
    try {
      const credential = new FakeTokenCredential();
      vault.seed('partner-center-client-secret', sim.credentials.clientSecret);
      vault.seed('partner-center-refresh-token', 'consent-required'); // infra/app/secrets.bicep
      const appStore = () =>
        createSecretStore(appConfig(vault.url), { logger: silentSecretsLogger, credential, clientOptions });

      // With the placeholder, the app's refresh fails as an invalid refresh token (the alert tells the operator).
      await expect(
        createPartnerCenterClient(appConfig(vault.url), appStore()).checkEligibility({
          customerId: eligibleCustomer,
          productFamily: 'Azure',
        }),
      ).rejects.toBeInstanceOf(RefreshTokenInvalidError);

      const operatorStore = new KeyVaultSecretStore(vault.url, { credential, clientOptions });
      const result = await runConsent({
        ...authority(),
        flow: 'authorization-code',
        clientSecret: (await operatorStore.get('PARTNER_CENTER_CLIENT_SECRET'))!,
        store: operatorStore,
        say,
        openUrl: browser,
        settle: settled,
      });

      expect(result.storedIn).toBe('key-vault');
      const [placeholder, consent] = vault.versions('partner-center-refresh-token');
      expect([placeholder.value, consent.value]).toEqual(['consent-required', result.refreshToken]);
      // A new consent generation, newer than the placeholder (which counts from when it was created)
      expect(consent.tags).toEqual({ 'consent-generation': result.generation });
      expect(
        compareGenerations(
          parseGeneration(result.generation)!,
          generationOf({ tags: {}, createdOn: placeholder.created * 1000 }),
        ),
      ).toBeGreaterThan(0);
      const eligibility = await createPartnerCenterClient(appConfig(vault.url), appStore()).checkEligibility({
        customerId: eligibleCustomer,
        productFamily: 'Azure',
      });
      expect(eligibility.isEligible).toBe(true);
    } finally {
      await vault.close();
    }
  });

  it('a wrong client secret: the consent fails, says why, and stores nothing', async () => {
    const store = new MemorySecretStore();
    await expect(
      runConsent({
        ...authority(),
        flow: 'authorization-code',
        clientSecret: 'not-the-secret',
        store,
        say,
        openUrl: browser,
      }),
    ).rejects.toThrow(/client secret was refused/);
    expect(store.writes).toEqual([]);
  });

  it('a declined consent: the error from the redirect is reported and nothing is stored', async () => {
    const store = new MemorySecretStore();
    const declining = async (url: string): Promise<void> => {
      const state = new URL(url).searchParams.get('state')!;
      const listener = /Waiting for the redirect to (\S+) \.\.\./.exec(said.join('\n'))![1];
      // A forged redirect with another state is refused and does not end the wait ...
      expect((await fetch(`${listener}/?code=forged&state=other`)).status).toBe(400);
      // ... the real one carrying Entra's error does.
      const params = new URLSearchParams({ error: 'access_denied', error_description: 'AADSTS65004: declined', state });
      expect((await fetch(`${listener}/?${params.toString()}`)).status).toBe(400);
    };
    const attempt = runConsent({ ...authority(), flow: 'authorization-code', store, say, openUrl: declining });
    await expect(attempt).rejects.toBeInstanceOf(ConsentError);
    await expect(attempt).rejects.toThrow(/access_denied/);
    expect(store.writes).toEqual([]);
  });

  it('gives up when no redirect arrives in time', async () => {
    const store = new MemorySecretStore();
    await expect(
      runConsent({ ...authority(), flow: 'authorization-code', store, say, timeoutMs: 200, openUrl: () => undefined }),
    ).rejects.toThrow(/no sign-in redirect within/);
    expect(store.writes).toEqual([]);
  });

  it('a sign-in without MFA is refused and nothing is stored, unless --allow-without-mfa says to keep it', async () => {
    await setMfa(sim, false);
    try {
      const store = new MemorySecretStore({ PARTNER_CENTER_CLIENT_SECRET: sim.credentials.clientSecret });
      const consent = (allowWithoutMfa: boolean) =>
        runConsent({
          ...authority(),
          flow: 'authorization-code',
          clientSecret: sim.credentials.clientSecret,
          allowWithoutMfa,
          store,
          say,
          openUrl: browser,
          settle: settled,
        });
      const refused = (await consent(false).catch((e: unknown) => e)) as Error;
      expect(refused).toBeInstanceOf(ConsentError);
      expect(refused.message).toMatch(/did not use MFA.*--allow-without-mfa/);
      expect(store.writes).toEqual([]);

      const kept = await consent(true);
      expect(kept).toMatchObject({ storedIn: 'memory', mfa: false });
      expect(store.values.get('PARTNER_CENTER_REFRESH_TOKEN')).toBe(kept.refreshToken);
      expect(said.join('\n')).toMatch(/WARNING: this sign-in did not use MFA/);
      expect(`${refused.message}\n${said.join('\n')}`).not.toContain(kept.refreshToken);
    } finally {
      await setMfa(sim, true);
    }
  });

  it('an app write-back in flight that lands over the new consent is undone: the consent stores its token again', async () => {
    const vault = await new FakeKeyVaultServer().start();
    try {
      const credential = new FakeTokenCredential();
      vault.seed('partner-center-client-secret', sim.credentials.clientSecret);
      vault.seed('partner-center-refresh-token', sim.credentials.refreshToken); // the older consent
      const appStore = createSecretStore(appConfig(vault.url), {
        logger: silentSecretsLogger,
        credential,
        clientOptions,
      });
      const owner = new RefreshTokenOwner(appStore, { checkIntervalMs: 0, writeIntervalMs: 3_600_000 });
      // The app rotates the older consent's token; its write-back has read the vault and its PUT is on its way ...
      const slowWrite = vault.holdNextWrite();
      await createPartnerCenterClient(appConfig(vault.url), appStore, { consent: owner }).checkEligibility({
        customerId: eligibleCustomer,
        productFamily: 'Azure',
      });
      await slowWrite.arrived;

      // ... while the operator consents; the write-back lands just after the consent's write.
      let rounds = 0;
      const result = await runConsent({
        ...authority(),
        flow: 'authorization-code',
        clientSecret: sim.credentials.clientSecret,
        store: new KeyVaultSecretStore(vault.url, { credential, clientOptions }),
        say,
        openUrl: browser,
        settle: async () => {
          rounds += 1;
          if (rounds === 1) {
            slowWrite.release();
            await owner.flush();
          }
        },
      });

      expect(rounds).toBe(2);
      expect(said.join('\n')).toMatch(/came in over this one: storing it again/);
      const versions = vault.versions('partner-center-refresh-token');
      expect(versions.map((v) => v.value === result.refreshToken)).toEqual([false, true, false, true]);
      expect(vault.current('partner-center-refresh-token')?.tags).toEqual({ 'consent-generation': result.generation });
      // The app switches to the new consent at its next look at the vault.
      expect((await owner.current())?.token).toBe(result.refreshToken);
    } finally {
      await vault.close();
    }
  });
});
