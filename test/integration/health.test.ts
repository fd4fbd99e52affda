import { health } from '../../functions/health';
import { loadConfig } from '../../shared/config';
import { createServices, resetServices } from '../../shared/services';
import { freePort } from '../../dev/free-port';
import { azuriteConnectionString } from '../../dev/azurite';
import { QUIET_SCHEDULE } from '../../dev/stack';
import { httpRequest, invocationContext } from '../helpers/functions';

const settings = {
  PARTNER_CENTER_TENANT_ID: '11111111-2222-3333-4444-555555555555',
  PARTNER_CENTER_CLIENT_ID: '66666666-7777-8888-9999-000000000000',
  POLL_SCHEDULE: QUIET_SCHEDULE,
};

describe('GET /api/health', () => {
  afterEach(() => resetServices());

  it('answers 200 with the version when Table Storage answers', async () => {
    const services = createServices(
      loadConfig({ ...settings, AzureWebJobsStorage: process.env.AzureWebJobsStorage, TABLE_NAME_PREFIX: 'health1' }),
    );
    await services.tables.createAll(); // as the deployment does
    resetServices(services);
    const response = await health(httpRequest({ path: '/api/health' }), invocationContext());
    expect(response.status).toBe(200);
    expect(response.jsonBody).toEqual({
      status: 'ok',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      checks: { tableStorage: 'ok' },
    });
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
