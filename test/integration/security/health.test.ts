import { randomBytes } from 'node:crypto';
import { TableServiceClient, odata } from '@azure/data-tables';
import { AZURITE_ACCOUNT } from '../../../dev/azurite';
import { health } from '../../../functions/health';
import { loadConfig } from '../../../shared/config';
import { createServices, resetServices } from '../../../shared/services';
import { httpRequest, invocationContext } from '../../helpers/functions';
import { QUIET_SCHEDULE } from '../../../dev/stack';

/**
 * The anonymous health endpoint: anyone on the internet may call it, so it must make the app create nothing and must
 * tell nothing about the storage behind it. The real function, the composition root, Azurite.
 */

const settings = {
  PARTNER_CENTER_TENANT_ID: '11111111-2222-3333-4444-555555555555',
  PARTNER_CENTER_CLIENT_ID: '66666666-7777-8888-9999-000000000000',
  POLL_SCHEDULE: QUIET_SCHEDULE,
};
const connectionString = process.env.AzureWebJobsStorage!;

async function tablesNamed(prefix: string): Promise<string[]> {
  const service = TableServiceClient.fromConnectionString(connectionString, { allowInsecureConnection: true });
  const names: string[] = [];
  // Every table whose name starts with the prefix (the OData range of names from prefix to prefix + '{').
  for await (const table of service.listTables({
    queryOptions: { filter: odata`TableName ge ${prefix} and TableName lt ${`${prefix}{`}` },
  })) {
    names.push(table.name ?? '');
  }
  return names;
}

async function call(storage: string, prefix: string) {
  resetServices(createServices(loadConfig({ ...settings, AzureWebJobsStorage: storage, TABLE_NAME_PREFIX: prefix })));
  const context = invocationContext({ functionName: 'health' });
  const response = await health(httpRequest({ path: '/api/health' }), context);
  return { response, text: JSON.stringify([response.headers, response.jsonBody]), context };
}

describe('security: the anonymous health check creates nothing and shows no error code', () => {
  afterEach(() => resetServices());

  it('on an account without the app tables: unavailable (it used to say ok, or create the table), and still none', async () => {
    const prefix = `hsec${randomBytes(4).toString('hex')}`;
    for (let i = 0; i < 3; i++) {
      const { response } = await call(connectionString, prefix);
      expect(response.status).toBe(503);
      expect(response.jsonBody).toMatchObject({ checks: { tableStorage: 'unavailable' } });
    }
    expect(await tablesNamed(prefix)).toEqual([]);
  });

  it.each([
    ['refused connections', connectionString.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:9')],
    [
      'a key the account refuses',
      connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${Buffer.from('wrong').toString('base64')}`),
    ],
  ])(
    'storage failing with %s: the answer names no code, status or host; the log does',
    async (_name, storage) => {
      const { response, text, context } = await call(storage, 'hsecfail');
      expect(response.status).toBe(503);
      expect(response.jsonBody).toMatchObject({
        status: 503,
        title: 'Table Storage is unavailable',
        checks: { tableStorage: 'unavailable' },
      });
      for (const needle of [
        /ECONNREFUSED/,
        /\b40[0-9]\b/,
        /Authoriz/i,
        /127\.0\.0\.1/,
        new RegExp(AZURITE_ACCOUNT),
        /storage (answered|unreachable)/,
      ]) {
        expect(text).not.toMatch(needle);
      }
      // What went wrong is for operators: in the log.
      expect(context.logs.some((l) => l.level === 'warning' && /Table Storage check failed/.test(l.message))).toBe(
        true,
      );
    },
    60_000,
  );
});
