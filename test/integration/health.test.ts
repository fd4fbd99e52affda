import { health } from '../../functions/health';
import { loadConfig } from '../../shared/config';
import { createServices, resetServices } from '../../shared/services';
import { freePort } from '../../dev/free-port';
import { azuriteConnectionString } from '../../dev/azurite';
import { QUIET_SCHEDULE, settingsSecretStore } from '../../dev/stack';
import { httpRequest, invocationContext } from '../helpers/functions';
import { newSigningSecret } from '../../shared/webhooks/signing';

const settings = {
  PARTNER_CENTER_TENANT_ID: '11111111-2222-3333-4444-555555555555',
  PARTNER_CENTER_CLIENT_ID: '66666666-7777-8888-9999-000000000000',
  POLL_SCHEDULE: QUIET_SCHEDULE,
  WEBHOOK_SIGNING_SECRET: newSigningSecret(),
};

/** Health of an app with these settings over the test's Azurite, its tables created as the deployment does. */
async function healthWith(overrides: Record<string, string>, prefix: string) {
  const env = {
    ...settings,
    AzureWebJobsStorage: process.env.AzureWebJobsStorage!,
    TABLE_NAME_PREFIX: prefix,
    ...overrides,
  };
  const config = loadConfig(env);
  const services = createServices(config, { secrets: settingsSecretStore(env, config) });
  await services.tables.createAll();
  resetServices(services);
  const context = invocationContext();
  return { response: await health(httpRequest({ path: '/api/health' }), context), context };
}

describe('GET /api/health', () => {
  afterEach(() => resetServices());

  it('answers 200 with the version when Table Storage answers', async () => {
    const { response } = await healthWith({}, 'health1');
    expect(response.status).toBe(200);
    expect(response.jsonBody).toEqual({
      status: 'ok',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      checks: { tableStorage: 'ok', webhookSignatures: 'required' },
    });
  });

  it('says when signatures are disabled (the local opt-out): still ok', async () => {
    const { response } = await healthWith({ WEBHOOK_SIGNING_SECRET: '', WEBHOOK_SIGNATURES: 'disabled' }, 'health2');
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({ status: 'ok', checks: { webhookSignatures: 'disabled' } });
  });

  it('answers 503 when signatures are required and no signing secret is set; the log names the setting', async () => {
    const { response, context } = await healthWith({ WEBHOOK_SIGNING_SECRET: '' }, 'health3');
    expect(response.status).toBe(503);
    expect(response.headers).toMatchObject({ 'content-type': 'application/problem+json', 'retry-after': '30' });
    expect(response.jsonBody).toMatchObject({
      status: 503,
      title: 'Webhook signatures cannot be checked',
      checks: { tableStorage: 'ok', webhookSignatures: 'unavailable' },
    });
    // An anonymous caller learns the mode, not the setting; the operator's log names it.
    expect(JSON.stringify(response.jsonBody)).not.toContain('WEBHOOK_SIGNING_SECRET');
    expect(context.logs.some((l) => l.level === 'warning' && /WEBHOOK_SIGNING_SECRET is not set/.test(l.message))).toBe(
      true,
    );
  });

  it('answers 503 problem details with Retry-After when storage is down', async () => {
    const dead = await freePort(); // nothing listens there
    resetServices(
      createServices(loadConfig({ ...settings, AzureWebJobsStorage: azuriteConnectionString(dead, dead, dead) })),
    );
    const context = invocationContext();
    const response = await health(httpRequest({ path: '/api/health' }), context);
    expect(response.status).toBe(503);
    expect(response.headers).toMatchObject({ 'content-type': 'application/problem+json', 'retry-after': '30' });
    expect(response.jsonBody).toMatchObject({
      type: 'urn:azure-plan-upgrades:problem:dependency-unavailable',
      status: 503,
      title: 'Table Storage is unavailable',
      checks: { tableStorage: 'unavailable' },
    });
    expect(JSON.stringify(response.jsonBody)).not.toMatch(/at .*\.js:\d+/); // no stack trace
    expect(context.logs.some((l) => l.level === 'warning')).toBe(true);
  });
});
