import { randomBytes } from 'node:crypto';
import type { QueueClient } from '@azure/storage-queue';
import { generateScenario } from '../../../dev/simulator';
import { startStack, type Stack } from '../../../dev/stack';
import { getUpgrade } from '../../../functions/getUpgrade';
import { startTracking } from '../../../functions/startTracking';
import { startUpgrade } from '../../../functions/startUpgrade';
import type { Services } from '../../../shared/services';
import { createQueueClient } from '../../../shared/storage/clients';
import { httpRequest, invocationContext, signedPost } from '../../helpers/functions';

const FIRST_DELAY_SECONDS = 45;

/**
 * POST /api/upgrades through the real function handlers, in process, against the simulator and Azurite, with the
 * tracking queue read by the test instead of a host: what the webhook does and what the queue trigger does, apart.
 */
describe('an upgrade started through POST /api/upgrades', () => {
  let stack: Stack;
  let services: Services;
  let queue: QueueClient;

  beforeAll(async () => {
    // The test's own tracking queue on the shared Azurite: the test reads it, no host does.
    stack = await startStack({
      storage: process.env.AzureWebJobsStorage ?? '',
      simulator: { scenario: generateScenario({ customers: 1, seed: 21, mix: { eligible: 1 }, name: 'start-split' }) },
      tablePrefix: `split${randomBytes(3).toString('hex')}`,
      settings: { POLL_FIRST_DELAY_SECONDS: String(FIRST_DELAY_SECONDS) },
      services: async ({ config, queues }) => {
        queue = createQueueClient(config.storage, `split-${randomBytes(4).toString('hex')}`);
        await queue.createIfNotExists();
        return { queues: { ...queues, upgradeTracking: queue } };
      },
    });
    services = stack.services;
  });
  afterAll(async () => {
    await queue?.deleteIfExists();
    await stack?.stop();
  });

  async function dueIds(at: number): Promise<string[]> {
    const ids: string[] = [];
    const store = services.tracking;
    for (const shard of store.shards)
      for await (const entry of store.dueEntries(shard, at)) ids.push(entry.state.upgradeId);
    return ids;
  }

  it('is readable right after the 202, and enters the poll schedule only when startTracking runs', async () => {
    const answer = await startUpgrade(
      signedPost(
        '/api/upgrades',
        { customerId: stack.sim.scenario.customers[0].id, productFamily: 'Azure' },
        stack.settings.WEBHOOK_SIGNING_SECRET,
      ),
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
