import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSimulator, type Scenario } from '../../../dev/simulator';
import { json, pc, refreshGrant } from './helpers';

const CUSTOMER = '00000000-0000-4000-8000-000000000001';
const scenario: Scenario = {
  customers: [{ id: CUSTOMER }],
  durations: { pendingSeconds: 3600, inProgressSeconds: 3600 },
};

describe('simulator state file', () => {
  it('keeps upgrades, idempotency keys and rotated refresh tokens across a restart, and writes no usable token', async () => {
    const stateFile = path.join(mkdtempSync(path.join(tmpdir(), 'sim-state-')), 'state.json');
    const credentials = { clientSecret: 'local-test-secret', refreshToken: 'local-test-refresh-token' };
    const first = await startSimulator({ port: 0, scenario, stateFile, credentials });
    const grant = await refreshGrant(first);
    const rotated = grant.body.refresh_token as string;
    const created = await pc(
      first,
      '/v1/productUpgrades',
      { customerId: CUSTOMER, productFamily: 'Azure' },
      { token: grant.body.access_token as string, headers: { 'MS-RequestId': '11111111-0000-4000-8000-000000000000' } },
    );
    const location = created.headers.get('location')!;
    const upgradeId = location.split('/')[1];
    await first.close();

    const written = readFileSync(stateFile, 'utf8');
    expect(written).toContain(upgradeId);
    expect(written).not.toContain(rotated);
    expect(written).not.toContain(credentials.refreshToken);

    const second = await startSimulator({ port: 0, scenario, stateFile, credentials });
    try {
      expect(second.state.getUpgrade(upgradeId)).toMatchObject({ customerId: CUSTOMER, status: 'Pending' });
      const again = await refreshGrant(second, { refresh_token: rotated });
      expect(again.status).toBe(200);
      const token = again.body.access_token as string;
      const body = { customerId: CUSTOMER, productFamily: 'Azure' };
      expect(await json(await pc(second, `/v1/productUpgrades/${upgradeId}/status`, body, { token }))).toMatchObject({
        id: upgradeId,
      });
      expect(await json(await pc(second, '/v1/productUpgrades/eligibility', body, { token }))).toMatchObject({
        isEligible: false,
        upgradeId,
      });
      const replay = await pc(second, '/v1/productUpgrades', body, {
        token,
        headers: { 'MS-RequestId': '11111111-0000-4000-8000-000000000000' },
      });
      expect(replay.status).toBe(202);
      expect(replay.headers.get('location')).toBe(location);
      expect(second.clock.now()).toBeGreaterThanOrEqual(Date.parse(second.state.getUpgrade(upgradeId)!.createdAt));
    } finally {
      await second.close();
    }
  });
});

describe('simulator state file with upgrades the scenario starts with', () => {
  it('an upgrade running at the start keeps its id and timeline across a restart', async () => {
    const stateFile = path.join(mkdtempSync(path.join(tmpdir(), 'sim-state-')), 'state.json');
    const running: Scenario = {
      customers: [{ id: CUSTOMER, existingUpgrade: 'running' }],
      durations: { pendingSeconds: 3600, inProgressSeconds: 7200 },
    };
    const first = await startSimulator({ port: 0, scenario: running, stateFile });
    const [before] = first.state.listUpgrades({ customerId: CUSTOMER });
    expect(before.status).toBe('InProgress');
    await first.close();
    const second = await startSimulator({ port: 0, scenario: running, stateFile });
    try {
      const after = second.state.listUpgrades({ customerId: CUSTOMER });
      expect(after.map((u) => [u.id, u.createdAt, u.finishesAt])).toEqual([
        [before.id, before.createdAt, before.finishesAt],
      ]);
      expect(second.state.customerTruth(CUSTOMER)?.eligibility).toMatchObject({ upgradeId: before.id });
    } finally {
      await second.close();
    }
  });
});
