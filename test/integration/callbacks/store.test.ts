import { randomUUID } from 'node:crypto';
import { Tables } from '../../../shared/storage/tables';
import { recordCallbackOutcome } from '../../../shared/callbacks/store';
import { readCallbackRecord } from '../../helpers/callback-records';

const connectionString = process.env.AzureWebJobsStorage ?? '';
const tables = new Tables({ storage: { kind: 'connectionString', connectionString }, tableNamePrefix: 'cbrec' });

describe('Callbacks table records (Azurite)', () => {
  it('keeps the latest outcome per event; delivered sets deliveredAt', async () => {
    const upgradeId = randomUUID();
    const eventId = randomUUID();
    const base = { upgradeId, eventId, event: 'upgrade.completed' };
    await recordCallbackOutcome(tables, { ...base, outcome: 'retry', status: 503, error: 'HTTP 503', attempt: 1 });
    expect(await readCallbackRecord(tables, upgradeId, eventId)).toMatchObject({ outcome: 'retry', status: 503 });
    await recordCallbackOutcome(tables, { ...base, outcome: 'delivered', status: 204, attempt: 2 });
    const delivered = await readCallbackRecord(tables, upgradeId, eventId);
    expect(delivered).toMatchObject({ outcome: 'delivered', status: 204, attempt: 2 });
    expect(delivered?.deliveredAt).toBe(delivered?.recordedAt);
  });

  it('a final outcome is never replaced by a later retry (duplicate message)', async () => {
    const upgradeId = randomUUID();
    const eventId = randomUUID();
    const base = { upgradeId, eventId, event: 'upgrade.failed' };
    await recordCallbackOutcome(tables, { ...base, outcome: 'rejected', status: 400, error: 'HTTP 400 from x' });
    const after = await recordCallbackOutcome(tables, { ...base, outcome: 'retry', status: 503 });
    expect(after).toMatchObject({ outcome: 'rejected', status: 400 });
    expect(await readCallbackRecord(tables, upgradeId, eventId)).toMatchObject({ outcome: 'rejected', status: 400 });
  });

  it('records poisoned messages durably, and concurrent writers converge', async () => {
    const upgradeId = randomUUID();
    const eventId = randomUUID();
    const base = { upgradeId, eventId, event: 'upgrade.stale' };
    await Promise.all([
      recordCallbackOutcome(tables, { ...base, outcome: 'retry', error: 'network error ECONNRESET', attempt: 5 }),
      recordCallbackOutcome(tables, { ...base, outcome: 'poisoned', error: 'gave up after 5 attempts' }),
      recordCallbackOutcome(tables, { ...base, outcome: 'retry', error: 'network error', attempt: 4 }),
    ]);
    // Whatever the interleaving, the final outcome wins.
    expect(await readCallbackRecord(tables, upgradeId, eventId)).toMatchObject({ outcome: 'poisoned' });
  });

  it('unknown events read as undefined', async () => {
    expect(await readCallbackRecord(tables, randomUUID(), randomUUID())).toBeUndefined();
  });
});
