import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { startHostedStack, type HttpAnswer, type HostedStack } from '../../../dev/stack';
import { acceptUpgrade, type TrackingMessage } from '../../../shared/tracking';
import { documentedCalls, type ProblemBody } from '../../helpers/api';
import { eligible } from './customers';

interface UpgradeItem {
  upgradeId: string;
  customerId: string;
  status: string;
  createdAt: string;
}
interface UpgradePage {
  items: UpgradeItem[];
  continuationToken?: string;
}

/** The read API through real HTTP into the real app: detail, paged listing, and every refusal. */
describe('read API', () => {
  let stack: HostedStack;

  beforeAll(async () => {
    stack = await startHostedStack({ tablePrefix: 'apiread', settings: { POLL_FIRST_DELAY_SECONDS: '0' } });
  });
  afterAll(async () => stack?.stop());

  const read = documentedCalls(() => stack).get;

  function fieldsOf(response: HttpAnswer): string[] {
    expect(response.status).toBe(400);
    const problem = response.body as ProblemBody;
    expect(problem.type).toBe('urn:azure-plan-upgrades:problem:validation');
    return (problem.errors ?? []).map((e) => e.field).sort();
  }

  it('GET /upgrades/{id}: the upgrade as last observed, with history after a poll', async () => {
    const started = await stack.post('/upgrades', { customerId: eligible(1) });
    expect(started.status).toBe(202);
    const upgradeId = (started.body as UpgradeItem).upgradeId;
    // The queue trigger starts its tracking (first poll due at once here), then a run polls it.
    await stack.tracked(upgradeId);
    await stack.host.runFunction('pollUpgrades');
    const response = await read(`/upgrades/${upgradeId.toUpperCase()}`);
    expect(response.status).toBe(200);
    const truth = stack.sim.state.getUpgrade(upgradeId)!;
    expect(response.body).toMatchObject({
      upgradeId,
      customerId: eligible(1),
      productFamily: 'Azure',
      status: truth.status,
      partnerCenterStatus: truth.status,
      attempts: 0,
      history: [expect.objectContaining({ status: truth.status })],
    });
    expect(response.body).toHaveProperty('lastCheckedAt');
  });

  it('GET /customers/{id}/upgrades: newest first, paged with a continuation token to the end', async () => {
    const customerId = randomUUID();
    const ids: string[] = [];
    // Recorded as every source of the app records an upgrade (acceptUpgrade), its message through the queue trigger.
    const store = stack.services.tracking;
    const send = (message: TrackingMessage) => stack.host.runFunction('startTracking', JSON.stringify(message));
    for (let i = 0; i < 5; i++) {
      const upgradeId = randomUUID();
      ids.push(upgradeId);
      await acceptUpgrade({ store, send }, { upgradeId, customerId, productFamily: 'Azure' });
      // Newest first is by the time each was recorded: the next one is recorded once the clock has moved past it.
      const { createdAt } = (await store.readUpgrade(upgradeId))!.record;
      while (Date.now() <= Date.parse(createdAt)) await nextTurn();
    }
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const query = `pageSize=2${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
      const response = await read(`/customers/${customerId}/upgrades?${query}`);
      expect(response.status).toBe(200);
      const page = response.body as UpgradePage;
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((i) => i.upgradeId));
      token = page.continuationToken;
      pages++;
    } while (token && pages < 10);
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBeGreaterThanOrEqual(3);

    const all = await read(`/customers/${customerId}/upgrades`);
    expect((all.body as UpgradePage).items).toHaveLength(5);
    expect((all.body as UpgradePage).continuationToken).toBeUndefined();
  });

  it('404 problem details for an unknown upgrade and a customer without upgrades', async () => {
    for (const path of [`/upgrades/${randomUUID()}`, `/customers/${randomUUID()}/upgrades`]) {
      const response = await read(path);
      expect(response.status).toBe(404);
      expect((response.body as ProblemBody).type).toBe('urn:azure-plan-upgrades:problem:not-found');
    }
  });

  it('400 naming a path id that is not a GUID', async () => {
    expect(fieldsOf(await read('/upgrades/not-a-guid'))).toEqual(['upgradeId']);
    expect(fieldsOf(await read(`/upgrades/${randomUUID()}x`))).toEqual(['upgradeId']);
    expect(fieldsOf(await read('/customers/contoso/upgrades'))).toEqual(['customerId']);
  });

  it.each(['0', '101', '-1', '1.5', 'abc', ''])('400 naming pageSize=%s', async (pageSize) => {
    expect(fieldsOf(await read(`/customers/${randomUUID()}/upgrades?pageSize=${pageSize}`))).toEqual(['pageSize']);
  });

  it.each(['garbage', 'eyJub3QiOiJhIHRva2VuIn0', '%00%01'])('400 naming continuationToken=%s', async (token) => {
    const response = await read(`/customers/${eligible(1)}/upgrades?continuationToken=${token}`);
    expect(fieldsOf(response)).toEqual(['continuationToken']);
  });
});
