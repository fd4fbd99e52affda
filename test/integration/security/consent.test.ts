import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Timer } from '@azure/functions';
import { startSimulator, type RunningSimulator } from '../../../dev/simulator';
import { checkEligibility } from '../../../functions/checkEligibility';
import { pollUpgrades } from '../../../functions/pollUpgrades';
import { ConsentError, runConsent } from '../../../scripts/consent/consent';
import { loadConfig, type AppConfig } from '../../../shared/config';
import { formatGeneration, GENERATION_TAG } from '../../../shared/partner-center';
import { createSecretStore, KeyVaultSecretStore, silentSecretsLogger } from '../../../shared/secrets';
import { createServices, resetServices, type Services } from '../../../shared/services';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import {
  FakeKeyVaultServer,
  FakeTokenCredential,
  fakeVaultClientOptions,
  type FakeSecretVersion,
} from '../../fakes/key-vault-server';
import { consentBrowser } from '../../helpers/consent-browser';
import { invocationContext, signedPost } from '../../helpers/functions';
import { newSigningSecret } from '../../../shared/webhooks/signing';

/**
 * One owner of the consent: a write-back of the app never undoes a newer consent. The app's real functions
 * (checkEligibility over HTTP semantics, the pollUpgrades timer that writes the rotated token back), its composition
 * root, the real SecretClient against the Key Vault fake, the simulator's token endpoint over loopback HTTP (seen
 * through a recorder that tells the chains of refresh tokens apart), real Azurite tables, and `npm run consent`'s
 * own code for the operator. Assertions name chains ("older consent", "new consent"), never a token.
 */

const SECRET = 'partner-center-refresh-token';
const WEBHOOK_SECRET = newSigningSecret();
const clientOptions = fakeVaultClientOptions(1);
const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: '', next: '', lastUpdated: '' },
};

interface Grant {
  presented: string;
  issued: string | undefined;
  status: number;
}

/**
 * Entra ID's token endpoint as the app sees it: forwards every request to the simulator over HTTP and records, for
 * each refresh-token grant, the token presented and the one issued — so a token's chain (which consent it descends
 * from) can be followed back. Never prints a token.
 */
async function tokenRecorder(target: string): Promise<{ url: string; grants: Grant[]; close: () => Promise<void> }> {
  const grants: Grant[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      void fetch(`${target}${request.url ?? '/'}`, {
        method: request.method,
        headers: { 'content-type': request.headers['content-type'] ?? 'application/x-www-form-urlencoded' },
        body: request.method === 'POST' ? body : undefined,
      }).then(async (answer) => {
        const text = await answer.text();
        const form = new URLSearchParams(body);
        if (form.get('grant_type') === 'refresh_token') {
          const issued = answer.ok ? (JSON.parse(text) as { refresh_token?: string }).refresh_token : undefined;
          grants.push({ presented: form.get('refresh_token') ?? '', issued, status: answer.status });
        }
        response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
        response.end(text);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    grants,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('security: one owner of the consent (write-back never undoes a newer consent)', () => {
  let sim: RunningSimulator;
  let recorder: Awaited<ReturnType<typeof tokenRecorder>>;
  let vault: FakeKeyVaultServer;
  let settings: Record<string, string>;
  let customerId: string;
  const credential = new FakeTokenCredential();
  /** Root token of each chain → its name. */
  const roots = new Map<string, string>();
  const started: Services[] = [];

  beforeEach(async () => {
    sim = await startSimulator({ port: 0 });
    customerId = sim.scenario.customers.find((c) => !c.ineligibleReason)!.id;
    recorder = await tokenRecorder(sim.url);
    vault = await new FakeKeyVaultServer().start();
    vault.seed('partner-center-client-secret', sim.credentials.clientSecret);
    vault.seed('webhook-signing-secret', WEBHOOK_SECRET);
    // The first `npm run consent`, a day ago.
    const yesterday = formatGeneration({ at: Date.now() - 86_400_000, nonce: '0a' });
    vault.seed(SECRET, sim.credentials.refreshToken, { [GENERATION_TAG]: yesterday });
    roots.clear();
    roots.set(sim.credentials.refreshToken, 'older consent');
    settings = {
      AzureWebJobsStorage: process.env.AzureWebJobsStorage!,
      TABLE_NAME_PREFIX: `consent${randomBytes(3).toString('hex')}`,
      PARTNER_CENTER_API_URL: sim.url,
      PARTNER_CENTER_AUTHORITY_HOST: recorder.url,
      PARTNER_CENTER_TENANT_ID: sim.credentials.tenantId,
      PARTNER_CENTER_CLIENT_ID: sim.credentials.clientId,
      KEY_VAULT_URL: vault.url,
      POLL_SCHEDULE: '0 */5 * * * *',
    };
  });
  afterEach(async () => {
    for (const services of started.splice(0)) services.consent.dispose();
    resetServices();
    await vault.close();
    await recorder.close();
    await sim.close();
  });

  /** An instance of the app: the composition root as in Azure, with the vault reached through the fake. */
  function instance(overrides: Record<string, string> = {}): Services {
    const config: AppConfig = loadConfig({ ...settings, ...overrides });
    const secrets = createSecretStore(config, { logger: silentSecretsLogger, credential, clientOptions });
    const services = createServices(config, { secrets, telemetry: new RecordingTelemetry() });
    started.push(services);
    return services;
  }

  /** Which consent a token descends from, following the recorded grants back to a root. */
  function chainOf(token: string | undefined): string {
    let current = token;
    for (let hops = 0; current !== undefined && hops < 1000; hops += 1) {
      const root = roots.get(current);
      if (root) return root;
      current = recorder.grants.find((g) => g.issued === current)?.presented;
    }
    return 'unknown';
  }

  /** The eligibility webhook through the real function of the installed instance. */
  async function eligibility(services: Services): Promise<number> {
    resetServices(services);
    const response = await checkEligibility(
      signedPost('/api/eligibility', { customerId, productFamily: 'Azure' }, WEBHOOK_SECRET),
      invocationContext({ functionName: 'checkEligibility' }),
    );
    return response.status ?? 200;
  }

  /** A poll run of the installed instance: the write-back window (it flushes the rotated token). */
  async function pollRun(services: Services): Promise<string[]> {
    resetServices(services);
    const context = invocationContext({ functionName: 'pollUpgrades' });
    await pollUpgrades(timer, context);
    return context.logs.map((l) => l.message);
  }

  /** An instance that has worked a while: it wrote one rotation back and now holds a newer one, not yet written. */
  async function runningInstance(overrides: Record<string, string> = {}): Promise<Services> {
    const services = instance(overrides);
    expect(await eligibility(services)).toBe(200);
    await pollRun(services); // the first rotation is written at once
    sim.state.expireAccessTokens(); // an hour later: the access token is refreshed, the refresh token rotates again
    expect(await eligibility(services)).toBe(200);
    expect(services.consent.hasPendingWrite).toBe(true); // written at most once an hour
    return services;
  }

  /** The operator runs `npm run consent` (the browser flow, against the simulator's Entra ID). */
  async function consentAgain(): Promise<{ generation: string; version: FakeSecretVersion }> {
    const result = await runConsent({
      flow: 'authorization-code',
      tenantId: sim.credentials.tenantId,
      clientId: sim.credentials.clientId,
      authorityHost: sim.url,
      clientSecret: sim.credentials.clientSecret,
      store: new KeyVaultSecretStore(vault.url, { credential, clientOptions }),
      say: () => undefined,
      openUrl: consentBrowser,
      settle: () => Promise.resolve(),
    });
    roots.set(result.refreshToken, 'new consent');
    const version = vault.current(SECRET)!;
    expect(chainOf(version.value)).toBe('new consent');
    return { generation: result.generation!, version };
  }

  /** Every version stored after the consent's: which chain, which generation. */
  function versionsAfter(consent: FakeSecretVersion): { chain: string; generation: string | undefined }[] {
    const versions = vault.versions(SECRET);
    return versions
      .slice(versions.findIndex((v) => v.version === consent.version) + 1)
      .map((v) => ({ chain: chainOf(v.value), generation: v.tags?.[GENERATION_TAG] }));
  }

  /** Redeems the vault's current token at the simulator, as the next instance to start would. */
  async function vaultTokenWorks(): Promise<boolean> {
    const response = await fetch(`${sim.url}/${sim.credentials.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: sim.credentials.clientId,
        client_secret: sim.credentials.clientSecret,
        refresh_token: vault.current(SECRET)!.value,
        scope: 'https://api.partnercenter.microsoft.com/.default',
      }),
    });
    return response.status === 200;
  }

  it('a new consent while an instance runs: its write-back window keeps the new consent, and it switches to it', async () => {
    const app = await runningInstance();
    const consent = await consentAgain();

    await pollRun(app); // the write-back window: the held rotation of the older consent must not land
    expect(chainOf(vault.current(SECRET)!.value)).toBe('new consent');
    expect(app.consent.hasPendingWrite).toBe(false);

    const grantsBefore = recorder.grants.length;
    sim.state.expireAccessTokens();
    expect(await eligibility(app)).toBe(200);
    await pollRun(app);
    const used = recorder.grants.slice(grantsBefore).map((g) => [chainOf(g.presented), g.status]);
    expect(used).toEqual([['new consent', 200]]);
    expect(versionsAfter(consent.version)).toEqual([{ chain: 'new consent', generation: consent.generation }]);
    expect(await vaultTokenWorks()).toBe(true);
  });

  it('a new consent while an instance runs: a refresh after the cache TTL uses it, before any write-back window', async () => {
    const app = await runningInstance({ SECRET_CACHE_TTL_SECONDS: '0' }); // the TTL has passed at every refresh
    const consent = await consentAgain();

    const grantsBefore = recorder.grants.length;
    sim.state.expireAccessTokens();
    expect(await eligibility(app)).toBe(200);
    const used = recorder.grants.slice(grantsBefore).map((g) => [chainOf(g.presented), g.status]);
    expect(used).toEqual([['new consent', 200]]);
    await pollRun(app);
    expect(versionsAfter(consent.version)).toEqual([{ chain: 'new consent', generation: consent.generation }]);
  });

  it('revoked before any new consent: calls answer 503 and nothing of the revoked chain is written; the consent ends it', async () => {
    const app = await runningInstance({ SECRET_CACHE_TTL_SECONDS: '0' }); // the new consent is seen at the next call

    const before = vault.versions(SECRET).length;
    sim.state.expireRefreshTokens();
    sim.state.expireAccessTokens();
    expect(await eligibility(app)).toBe(503);
    expect((app.telemetry as RecordingTelemetry).events.map((e) => e.name)).toContain('RefreshTokenInvalid');
    const logs = await pollRun(app); // the write-back window: the held rotation of the revoked chain is dropped
    expect(logs.join('\n')).not.toMatch(/not yet written back/);
    expect(vault.versions(SECRET)).toHaveLength(before);

    const consent = await consentAgain();
    expect(await eligibility(app)).toBe(200);
    await pollRun(app);
    expect(versionsAfter(consent.version).map((v) => v.chain)).toEqual(['new consent']);
  });

  it.each(['a webhook call', 'the poll run'])(
    'revoke, then consent: the pending write of the revoked chain never lands, the new consent stays (%s first)',
    async (first) => {
      const app = await runningInstance();
      sim.state.expireRefreshTokens(); // the departed admin's sessions are revoked: the older chain is dead
      sim.state.expireAccessTokens();
      const consent = await consentAgain();

      if (first === 'the poll run') await pollRun(app);
      expect(await eligibility(app)).toBe(200); // no outage: the new consent is used at once
      await pollRun(app);

      expect(versionsAfter(consent.version).every((v) => v.chain === 'new consent')).toBe(true);
      expect(versionsAfter(consent.version).every((v) => v.generation === consent.generation)).toBe(true);
      expect(chainOf(vault.current(SECRET)!.value)).toBe('new consent');
      expect(await vaultTokenWorks()).toBe(true);
      // The revoked chain was presented at most once (the held token), never again after the refusal.
      const refused = recorder.grants.filter((g) => g.status !== 200);
      expect(refused.map((g) => chainOf(g.presented))).toEqual(first === 'the poll run' ? [] : ['older consent']);
    },
  );

  it('two instances rotating at once: the vault ends with a working token, and neither wrote over a newer consent', async () => {
    const [a, b] = [instance(), instance()];
    const bothCall = async (): Promise<void> => {
      const results = await Promise.all(
        [a, b].map((s) => s.partnerCenter.checkEligibility({ customerId, productFamily: 'Azure' })),
      );
      expect(results.map((r) => r.isEligible)).toEqual([true, true]);
    };
    const bothFlush = (): Promise<unknown> => Promise.all([a.consent.flush(), b.consent.flush()]);

    await bothCall(); // both rotate the older consent's token at once, and write back at once
    await bothFlush();
    expect(chainOf(vault.current(SECRET)!.value)).toBe('older consent');
    sim.state.expireAccessTokens();
    await bothCall(); // both hold a newer rotation, not yet written
    const consent = await consentAgain();
    await bothFlush(); // both write-back windows at once
    sim.state.expireAccessTokens();
    await bothCall(); // both now rotate the new consent
    await bothFlush();

    expect(versionsAfter(consent.version).map((v) => v.chain)).toEqual(['new consent', 'new consent']);
    expect(versionsAfter(consent.version).every((v) => v.generation === consent.generation)).toBe(true);
    expect(await vaultTokenWorks()).toBe(true);
    for (const services of [a, b]) expect(chainOf((await services.consent.current())?.token)).toBe('new consent');
  });

  it('npm run consent refuses a sign-in without MFA and leaves the vault as it was', async () => {
    await fetch(`${sim.url}/_sim/tokens/settings`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mfa: false }),
    });
    const before = vault.versions(SECRET).length;
    await expect(consentAgain()).rejects.toBeInstanceOf(ConsentError);
    expect(vault.versions(SECRET)).toHaveLength(before);
  });
});
