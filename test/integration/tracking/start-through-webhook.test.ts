import { randomBytes } from 'node:crypto';
import type { QueueClient } from '@azure/storage-queue';
import { appSettingsFor, generateScenario, startSimulator, type RunningSimulator } from '../../../dev/simulator';
import { getUpgrade } from '../../../functions/getUpgrade';
import { startTracking } from '../../../functions/startTracking';
import { startUpgrade } from '../../../functions/startUpgrade';
import { loadConfig } from '../../../shared/config';
import { CachedSecretStore, EnvironmentSecretStore } from '../../../shared/secrets';
import { createServices, resetServices, type Services } from '../../../shared/services';
import { createQueueClient } from '../../../shared/storage/clients';
import { noTelemetry } from '../../../shared/telemetry/telemetry';
import { SIGNATURE_HEADER, signPayload } from '../../../shared/webhooks';
import { httpRequest, invocationContext } from '../../helpers/functions';

const SIGNING_SECRET = 'test-webhook-signing-secret-not-a-real-one';
const FIRST_DELAY_SECONDS = 45;

/**
 * POST /api/upgrades through the real function handlers, in process, against the simulator and Azurite, with the
 * tracking queue read by the test instead of a host: what the webhook does and what the queue trigger does, apart.
 */
describe('an upgrade started through POST /api/upgrades', () => {
  let sim: RunningSimulator;
  let services: Services;
  let queue: QueueClient;

  beforeAll(async () => {
    sim = await startSimulator({
      port: 0,
      scenario: generateScenario({ customers: 1, seed: 21, mix: { eligible: 1 }, name: 'start-split' }),
    });
    const settings = {
      ...appSettingsFor(sim),
      AzureWebJobsStorage: process.env.AzureWebJobsStorage ?? '',
      TABLE_NAME_PREFIX: `split${randomBytes(3).toString('hex')}`,
      KEY_VAULT_URL: '',
      WEBHOOK_SIGNING_SECRET: SIGNING_SECRET,
      POLL_FIRST_DELAY_SECONDS: String(FIRST_DELAY_SECONDS),
    };
    const config = loadConfig(settings);
    queue = createQueueClient(config.storage, `split-${randomBytes(4).toString('hex')}`);
    await queue.createIfNotExists();
    const secrets = new CachedSecretStore(new EnvironmentSecretStore(settings), { ttlMs: 300_000 });
    const defaults = createServices(config, { secrets, telemetry: noTelemetry });
    services = { ...defaults, queues: { ...defaults.queues, upgradeTracking: queue } };
    resetServices(services);
  });
  afterAll(async () => {
    resetServices();
    await queue?.deleteIfExists();
    await sim?.close();
  });

  async function dueIds(at: number): Promise<string[]> {
    const ids: string[] = [];
    const store = services.tracking;
    for (const shard of store.shards)
      for await (const entry of store.dueEntries(shard, at)) ids.push(entry.state.upgradeId);
    return ids;
  }

  it('is readable right after the 202, and enters the poll schedule only when startTracking runs', async () => {
    const body = JSON.stringify({ customerId: sim.scenario.customers[0].id, productFamily: 'Azure' });
    const answer = await startUpgrade(
      httpRequest({
        method: 'POST',
        path: '/api/upgrades',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(body, SIGNING_SECRET) },
        body,
      }),
      invocationContext({ functionName: 'startUpgrade' }),
    );
    expect(answer.status).toBe(202);
    const { upgradeId } = answer.jsonBody as { upgradeId: string };

    // GET /api/upgrades/{id} right after the 202: 200, Pending, no poll planned yet.
    const read = await getUpgrade(
      httpRequest({ method: 'GET', path: `/api/upgrades/${upgradeId}`, params: { upgradeId } }),
      invocationContext({ functionName: 'getUpgrade' }),
    );
    expect(read.status).toBe(200);
    expect(read.jsonBody).toMatchObject({ upgradeId, status: 'Pending', isFinal: false, history: [] });
    expect(read.jsonBody).not.toHaveProperty('nextPollAt');
    // In nobody's poll schedule, however late a run would come.
    expect(await dueIds(Date.now() + 365 * 86_400_000)).not.toContain(upgradeId);

    // The queue trigger takes the message the webhook sent and does the tracking's first real work.
    const { receivedMessageItems: messages } = await queue.receiveMessages({ numberOfMessages: 32 });
    expect(messages).toHaveLength(1);
    const message = JSON.parse(Buffer.from(messages[0].messageText, 'base64').toString('utf8')) as unknown;
    expect(message).toMatchObject({ upgradeId, source: 'start-upgrade' });
    const started = Date.now();
    await startTracking(message, invocationContext({ functionName: 'startTracking' }));
    const finished = Date.now();

    // Scheduled now: its first poll due POLL_FIRST_DELAY_SECONDS after startTracking ran, not before.
    const { record } = (await services.tracking.readUpgrade(upgradeId))!;
    const firstPoll = Date.parse(record.nextPollAt!);
    expect(firstPoll).toBeGreaterThanOrEqual(started + FIRST_DELAY_SECONDS * 1000);
    expect(firstPoll).toBeLessThanOrEqual(finished + FIRST_DELAY_SECONDS * 1000);
    expect(await dueIds(firstPoll - 1)).not.toContain(upgradeId);
    expect(await dueIds(firstPoll)).toContain(upgradeId);
  });
});
