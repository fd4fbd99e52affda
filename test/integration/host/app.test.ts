import path from 'node:path';
import { loadLocalSettings } from '../../../dev/host/settings';
import { startTestLocalHost, type TestLocalHost } from '../../helpers/local-host';

// The real app, loaded the way `npm start` loads it: package.json `main` (mapped to the TypeScript sources here),
// the embedded local settings, then the test Azurite for storage.
describe('local host: the real app', () => {
  let host: TestLocalHost;

  beforeAll(async () => {
    const { values } = loadLocalSettings(path.resolve(__dirname, '../../..'), {});
    host = await startTestLocalHost({
      settings: { ...values, TABLE_NAME_PREFIX: 'hostapp' },
      hostJson: { extensions: { queues: { maxPollingInterval: '00:00:00.500' } } },
    });
  });
  afterAll(async () => host.stop());

  it('registers the functions from package.json main and answers GET /api/health with 200', async () => {
    expect(host.registrations.map((r) => r.name)).toContain('health');
    const response = await fetch(`${host.url}/api/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', checks: { tableStorage: { ok: true } } });
    expect(host.logs.some((l) => /Executed 'Functions\.health' \(Succeeded, Id=[0-9a-f-]{36}/.test(l))).toBe(true);
  });
});
