import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { QueueClient } from '@azure/storage-queue';
import { processCallbackMessage, type CallbackJobResult } from '../../../shared/callbacks/job';
import { loadConfig, SECRET_SETTING_NAMES } from '../../../shared/config';
import { EnvironmentSecretStore } from '../../../shared/secrets/environment-store';
import { Tables } from '../../../shared/storage/tables';
import { noTelemetry } from '../../../shared/telemetry';
import { TrackingStore } from '../../../shared/tracking';
import { notifiedUpgrade, observedQueue, type SentMessage } from '../callbacks/fixtures';
import { BillingReceiver, QUIET_SCHEDULE } from '../../../dev/stack';
import { readmeSettingNames } from '../../helpers/readme-settings';
import { newSigningSecret } from '../../../shared/webhooks/signing';

const SECRET = newSigningSecret();
const connectionString = process.env.AzureWebJobsStorage!;

/**
 * Every callback setting of the README's settings table changes what the real callback job does, read the way the
 * app reads it (`loadConfig` from the settings), against Azurite and a real receiver. A setting with no case here, or
 * whose two values make no difference, fails the test. (`CALLBACK_SIGNING_SECRET` is a secret, read from the secret
 * store, not a setting: the job tests cover it.)
 */
describe('callback settings change what the callback job does', () => {
  const tables = new Tables({ storage: { kind: 'connectionString', connectionString }, tableNamePrefix: 'cbset' });
  const tracking = new TrackingStore(tables);
  const receiver = new BillingReceiver(SECRET);
  /** Takes every request and never answers. */
  let silent: Server;
  let silentUrl = '';

  beforeAll(async () => {
    await receiver.start();
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/callbacks`;
  });
  afterAll(async () => {
    await receiver.stop();
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  /** One message through the job, with the app configured from `settings` (on top of the ones every run needs). */
  async function run(
    settings: Record<string, string>,
    options: { answers?: number[]; attempt?: number } = {},
  ): Promise<{ result: CallbackJobResult; sent: SentMessage[] }> {
    const config = loadConfig({
      AzureWebJobsStorage: connectionString,
      PARTNER_CENTER_TENANT_ID: '11111111-1111-4111-8111-111111111111',
      PARTNER_CENTER_CLIENT_ID: '22222222-2222-4222-8222-222222222222',
      KEY_VAULT_URL: '',
      POLL_SCHEDULE: QUIET_SCHEDULE,
      BILLING_CALLBACK_URL: receiver.url,
      ...settings,
    });
    const queue = observedQueue(new QueueClient(connectionString, `cbset-${randomUUID().slice(0, 8)}`));
    const poison = observedQueue(new QueueClient(connectionString, `cbset-${randomUUID().slice(0, 8)}-poison`));
    await Promise.all([queue.queue.createIfNotExists(), poison.queue.createIfNotExists()]);
    const { message } = await notifiedUpgrade({ tracking, tables });
    receiver.script(message.customerId, options.answers ?? []);
    const result = await processCallbackMessage(
      { ...message, attempt: options.attempt ?? 1 },
      {
        tables,
        tracking,
        secrets: new EnvironmentSecretStore({ CALLBACK_SIGNING_SECRET: SECRET }),
        telemetry: noTelemetry,
        config,
        queue: queue.queue,
        poisonQueue: poison.queue,
      },
    );
    return { result, sent: queue.sent };
  }

  const cases: Record<string, () => Promise<void>> = {
    BILLING_CALLBACK_URL: async () => {
      expect((await run({})).result).toMatchObject({ outcome: 'delivered' });
      expect((await run({ BILLING_CALLBACK_URL: '' })).result).toMatchObject({ outcome: 'skipped' });
    },
    CALLBACK_TIMEOUT_SECONDS: async () => {
      // A receiver that never answers: the POST is given up after the configured time.
      for (const seconds of [1, 2]) {
        const { result } = await run({ BILLING_CALLBACK_URL: silentUrl, CALLBACK_TIMEOUT_SECONDS: String(seconds) });
        expect(result).toMatchObject({ outcome: 'retry-scheduled', error: `no answer within ${seconds * 1000} ms` });
      }
    },
    CALLBACK_MAX_ATTEMPTS: async () => {
      const down = { answers: [503] };
      expect((await run({ CALLBACK_MAX_ATTEMPTS: '1' }, down)).result).toMatchObject({ outcome: 'poisoned' });
      expect((await run({ CALLBACK_MAX_ATTEMPTS: '2' }, down)).result).toMatchObject({ outcome: 'retry-scheduled' });
      // Unset: 8 attempts.
      expect((await run({}, { ...down, attempt: 7 })).result).toMatchObject({ outcome: 'retry-scheduled' });
      expect((await run({}, { ...down, attempt: 8 })).result).toMatchObject({ outcome: 'poisoned' });
    },
    CALLBACK_RETRY_BASE_SECONDS: async () => {
      const down = { answers: [503] };
      for (const [settings, attempt, delay] of [
        [{ CALLBACK_RETRY_BASE_SECONDS: '7' }, 1, 7],
        [{ CALLBACK_RETRY_BASE_SECONDS: '7' }, 3, 28],
        [{ CALLBACK_RETRY_BASE_SECONDS: '60' }, 1, 60],
        [{}, 2, 60], // unset: 30 s, doubling
      ] as const) {
        const { result, sent } = await run(settings, { ...down, attempt });
        expect(result).toMatchObject({ outcome: 'retry-scheduled', delaySeconds: delay });
        expect(sent.map((s) => s.visibilityTimeout)).toEqual([delay]);
      }
    },
  };

  it('every callback setting in the README table has a case here', () => {
    const secrets: readonly string[] = SECRET_SETTING_NAMES;
    const documented = readmeSettingNames().filter(
      (name) => /^(CALLBACK_|BILLING_CALLBACK_)/.test(name) && !secrets.includes(name),
    );
    expect(documented.length).toBeGreaterThanOrEqual(4);
    expect(Object.keys(cases).sort()).toEqual(documented.sort());
  });

  it.each(Object.keys(cases))('%s', async (name) => {
    await cases[name]();
  });
});
