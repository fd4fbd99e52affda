import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HttpResponseInit, Timer } from '@azure/functions';
import { parse } from 'yaml';
import { startSimulator, type RunningSimulator } from '../../../dev/simulator';
import { checkEligibility } from '../../../functions/checkEligibility';
import { getUpgrade } from '../../../functions/getUpgrade';
import { listCustomerUpgrades } from '../../../functions/listCustomerUpgrades';
import { pollUpgrades } from '../../../functions/pollUpgrades';
import { startTracking } from '../../../functions/startTracking';
import { startUpgrade } from '../../../functions/startUpgrade';
import { loadConfig } from '../../../shared/config';
import { createSecretStore, silentSecretsLogger } from '../../../shared/secrets';
import { createServices, resetServices, type Services } from '../../../shared/services';
import { createQueueClient } from '../../../shared/storage/clients';
import { FakeKeyVaultServer, FakeTokenCredential, fakeVaultClientOptions } from '../../fakes/key-vault-server';
import { httpRequest, invocationContext, signedPost } from '../../helpers/functions';
import { customerId } from '../callbacks/harness';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import { QUIET_SCHEDULE } from '../../../dev/stack';
import { newSigningSecret } from '../../../shared/webhooks/signing';

/**
 * The read API leaks nothing an upgrade's last error held. A poll that fails because Key Vault refuses the app, or
 * because Entra ID refuses the refresh token, records the whole story in the upgrade's row for operators: the vault's
 * URL, the secret's name in both spellings, Entra ID's AADSTS text. `GET /api/upgrades/{id}` and the customer listing
 * then answer from that row. Before the answers showed the error as a category and code only, `lastError.message`
 * carried that text verbatim to any holder of a read key (the finding): the first two tests fail there.
 *
 * The real functions (startUpgrade, startTracking, pollUpgrades, the two read endpoints, checkEligibility), the
 * composition root with the real SecretClient against the Key Vault fake, the simulator's Partner Center and token
 * endpoint over loopback HTTP, and Azurite.
 */

const clientOptions = fakeVaultClientOptions(0);
const timer = { isPastDue: false } as Timer;
const CUSTOMERS = [customerId(0x401), customerId(0x402), customerId(0x403)];
const WEBHOOK_SECRET = newSigningSecret();

describe('security: the read API and every error answer leak no secret, key, vault URL or secret name', () => {
  let sim: RunningSimulator;
  let vault: FakeKeyVaultServer;
  let settings: Record<string, string>;
  const started: Services[] = [];

  beforeAll(async () => {
    sim = await startSimulator({
      port: 0,
      scenario: { name: 'leaks', customers: CUSTOMERS.map((id) => ({ id })) },
    });
    vault = await new FakeKeyVaultServer().start();
    vault.seed('partner-center-client-secret', sim.credentials.clientSecret);
    vault.seed('partner-center-refresh-token', sim.credentials.refreshToken);
    vault.seed('webhook-signing-secret', WEBHOOK_SECRET);
    const tag = randomBytes(3).toString('hex');
    settings = {
      AzureWebJobsStorage: process.env.AzureWebJobsStorage!,
      TABLE_NAME_PREFIX: `leak${tag}`,
      PARTNER_CENTER_API_URL: sim.url,
      PARTNER_CENTER_AUTHORITY_HOST: sim.url,
      PARTNER_CENTER_TENANT_ID: sim.credentials.tenantId,
      PARTNER_CENTER_CLIENT_ID: sim.credentials.clientId,
      PARTNER_CENTER_MAX_ATTEMPTS: '1',
      KEY_VAULT_URL: vault.url,
      POLL_FIRST_DELAY_SECONDS: '0',
      POLL_SCHEDULE: QUIET_SCHEDULE,
    };
  });
  afterAll(async () => {
    for (const services of started.splice(0)) services.consent.dispose();
    resetServices();
    await vault.close();
    await sim.close();
  });

  /** An instance of the app (a cold one: nothing cached), installed for the function handlers. */
  function instance(overrides: Record<string, string> = {}): Services {
    const config = loadConfig({ ...settings, ...overrides });
    const secrets = createSecretStore(config, {
      logger: silentSecretsLogger,
      credential: new FakeTokenCredential(),
      clientOptions,
    });
    // Queues of its own: the tracking message is handed to startTracking by the test.
    const queue = (name: string) => createQueueClient(config.storage, `leak-${name}-${randomBytes(4).toString('hex')}`);
    const services = createServices(config, {
      secrets,
      telemetry: new RecordingTelemetry(),
      queues: { upgradeTracking: queue('t'), upgradeNotifications: queue('n'), upgradeNotificationsPoison: queue('p') },
    });
    started.push(services);
    resetServices(services);
    return services;
  }

  /** The text a caller receives (status, headers and body), and what must never be in it. */
  function leaks(response: HttpResponseInit): string[] {
    const text = JSON.stringify([response.status, response.headers, response.jsonBody ?? response.body]);
    const vaultUrl = new URL(vault.url);
    const needles = [
      vault.url,
      vaultUrl.host,
      'partner-center-refresh-token',
      'partner-center-client-secret',
      'PARTNER_CENTER_REFRESH_TOKEN',
      'PARTNER_CENTER_CLIENT_SECRET',
      'KEY_VAULT',
      'Key Vault ',
      'AADSTS',
      'invalid_grant',
      'trace id',
      sim.credentials.clientSecret,
      sim.credentials.refreshToken,
      new URL(sim.url).host,
      'AccountKey',
    ];
    return needles.filter((needle) => text.includes(needle));
  }

  async function start(customer: string): Promise<string> {
    const response = await startUpgrade(
      signedPost('/api/upgrades', { customerId: customer, productFamily: 'Azure' }, WEBHOOK_SECRET),
      invocationContext({ functionName: 'startUpgrade' }),
    );
    expect(response.status).toBe(202);
    const { upgradeId } = response.jsonBody as { upgradeId: string };
    await startTracking(
      JSON.stringify({ upgradeId, customerId: customer, productFamily: 'Azure' }),
      invocationContext({ functionName: 'startTracking' }),
    );
    return upgradeId;
  }

  async function reads(upgradeId: string, customer: string): Promise<HttpResponseInit[]> {
    const context = invocationContext({ functionName: 'read' });
    return [
      await getUpgrade(httpRequest({ path: `/api/upgrades/${upgradeId}`, params: { upgradeId } }), context),
      await listCustomerUpgrades(
        httpRequest({ path: `/api/customers/${customer}/upgrades`, params: { customerId: customer } }),
        context,
      ),
    ];
  }

  it('a poll without Key Vault: the row keeps the vault and secret names, the read answers show category only', async () => {
    instance();
    const upgradeId = await start(CUSTOMERS[0]);
    // Another instance, cold (no secret cached), while Key Vault refuses the app's identity.
    const cold = instance();
    await vault.outage('refuse');
    await pollUpgrades(timer, invocationContext({ functionName: 'pollUpgrades' }));
    await vault.restore();
    const { record } = (await cold.tracking.readUpgrade(upgradeId))!;
    // The row holds what an operator needs, and what no caller may see.
    expect(record.lastError).toContain(vault.url);
    expect(record.lastError).toMatch(/PARTNER_CENTER_(REFRESH_TOKEN|CLIENT_SECRET)/);

    const [detail, list] = await reads(upgradeId, CUSTOMERS[0]);
    expect([detail.status, list.status]).toEqual([200, 200]);
    expect([...leaks(detail), ...leaks(list)]).toEqual([]);
    expect(detail.jsonBody).toMatchObject({ lastError: { category: 'transient', at: record.lastErrorAt } });
    expect(Object.keys((detail.jsonBody as { lastError: object }).lastError).sort()).toEqual(['at', 'category']);
  });

  it('a poll refused by Entra ID (expired refresh token): AADSTS text stays in the row, out of the answers', async () => {
    const warm = instance();
    const upgradeId = await start(CUSTOMERS[1]);
    expect(sim.state.expireRefreshTokens()).toBeGreaterThan(0);
    instance(); // cold: it must redeem the refresh token, which Entra ID now refuses
    await pollUpgrades(timer, invocationContext({ functionName: 'pollUpgrades' }));
    const { record } = (await warm.tracking.readUpgrade(upgradeId))!;
    expect(record.lastError).toMatch(/AADSTS700082/);
    expect(record.lastError).toContain('PARTNER_CENTER_REFRESH_TOKEN');

    const [detail, list] = await reads(upgradeId, CUSTOMERS[1]);
    expect(detail.jsonBody).toMatchObject({ lastError: { category: 'auth' } });
    expect([...leaks(detail), ...leaks(list)]).toEqual([]);
  });

  it('every kind of dependency failure answers a fixed text: no vault, secret, Entra ID or storage text', async () => {
    const eligibility = async () =>
      checkEligibility(
        signedPost('/api/eligibility', { customerId: CUSTOMERS[2], productFamily: 'Azure' }, WEBHOOK_SECRET),
        invocationContext({ functionName: 'checkEligibility' }),
      );
    const answers: [string, HttpResponseInit][] = [];

    // Entra ID refuses the refresh token (still expired from the test before).
    instance();
    answers.push(['refresh token refused', await eligibility()]);
    // Key Vault unreachable at a cold cache: the signing secret cannot be read.
    instance();
    await vault.outage('refuse');
    answers.push(['Key Vault down, signing secret not cached', await eligibility()]);
    await vault.restore();
    // Key Vault unreachable with the signing secret cached, the Partner Center secrets not.
    await instance().secrets.get('WEBHOOK_SIGNING_SECRET');
    await vault.outage('refuse');
    answers.push(['Key Vault down', await eligibility()]);
    await vault.restore();
    // A wrong client secret in the vault (Entra ID: invalid_client).
    vault.seed('partner-center-client-secret', 'not-the-client-secret-of-the-app');
    instance();
    answers.push(['client secret refused', await eligibility()]);
    vault.seed('partner-center-client-secret', sim.credentials.clientSecret);
    // Nobody answers at the token endpoint.
    instance({ PARTNER_CENTER_AUTHORITY_HOST: 'http://127.0.0.1:9' });
    answers.push(['token endpoint down', await eligibility()]);
    // Table Storage down under the read API.
    instance({ AzureWebJobsStorage: settings.AzureWebJobsStorage.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:9') });
    answers.push(['storage down', (await reads(customerId(0x499), CUSTOMERS[2]))[0]]);

    for (const [name, answer] of answers) {
      expect({ name, status: answer.status, leaks: leaks(answer) }).toEqual({ name, status: 503, leaks: [] });
    }
  }, 60_000);

  it('the API document offers a key in the x-functions-key header only, never in the URL where proxies log it', () => {
    // Before, docs/openapi.yaml also declared the `code` query parameter as a security scheme.
    const document = parse(readFileSync(path.join(__dirname, '../../../docs/openapi.yaml'), 'utf8')) as {
      security: Record<string, string[]>[];
      components: { securitySchemes: Record<string, { type: string; in: string; name: string }> };
    };
    expect(Object.values(document.components.securitySchemes)).toEqual([
      expect.objectContaining({ type: 'apiKey', in: 'header', name: 'x-functions-key' }),
    ]);
    expect(document.security.flatMap((requirement) => Object.keys(requirement))).toEqual(['functionKey']);
  });
});
