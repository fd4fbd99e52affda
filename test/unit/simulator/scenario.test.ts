import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  defaultScenario,
  generateScenario,
  loadScenario,
  startSimulator,
  steppedClock,
  validateScenario,
  ScenarioError,
  type UpgradeTruth,
} from '../../../dev/simulator';
import { accessToken, admin, json, pc } from './helpers';

describe('simulator scenarios', () => {
  it('the default scenario has a few dozen customers of every kind', () => {
    const scenario = defaultScenario();
    expect(scenario.customers.length).toBeGreaterThanOrEqual(24);
    expect(scenario.customers.length).toBeLessThanOrEqual(60);
    const reasons = new Set(scenario.customers.map((c) => c.ineligibleReason).filter(Boolean));
    expect(reasons).toEqual(
      new Set(['suspendedSubscriptions', 'noAzureSubscriptions', 'azurePartnerSharedServices', 'boughtRecently']),
    );
    const outcomes = new Set(scenario.customers.filter((c) => !c.ineligibleReason).map((c) => c.outcome));
    expect(outcomes).toEqual(new Set(['Completed', 'Failed', 'PartiallyFailed']));
    expect(new Set(scenario.customers.map((c) => c.legacySubscriptions)).size).toBeGreaterThan(1);
    expect(() => validateScenario(scenario)).not.toThrow();
  });

  it('the scenario files in dev/scenarios are valid, and default.json is the built-in default', () => {
    const folder = path.join(__dirname, '../../../dev/scenarios');
    const files = readdirSync(folder).filter((name) => name.endsWith('.json'));
    expect(files).toEqual(expect.arrayContaining(['default.json', 'flaky.json']));
    for (const file of files) expect(() => loadScenario(path.join(folder, file))).not.toThrow();
    expect(loadScenario(path.join(folder, 'default.json'))).toEqual(defaultScenario());
  });

  it('the generator is deterministic by seed and honours the mix exactly', () => {
    const a = generateScenario({ customers: 2_000, seed: 42 });
    const b = generateScenario({ customers: 2_000, seed: 42 });
    const c = generateScenario({ customers: 2_000, seed: 43 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.customers[0].id).not.toBe(c.customers[0].id);
    expect(new Set(a.customers.map((x) => x.id)).size).toBe(2_000);
    expect(a.customers.filter((x) => x.ineligibleReason === 'boughtRecently')).toHaveLength(100);
    const mixed = generateScenario({
      customers: 100,
      seed: 1,
      mix: { eligible: 1, noAzureSubscriptions: 1 },
      outcomes: { Completed: 1 },
    });
    expect(mixed.customers.filter((x) => x.ineligibleReason === 'noAzureSubscriptions')).toHaveLength(50);
    expect(mixed.customers.filter((x) => !x.ineligibleReason).every((x) => x.outcome === 'Completed')).toBe(true);
    for (const x of a.customers.filter((y) => y.outcome === 'PartiallyFailed')) {
      expect(x.failedLineItems).toBeLessThan(x.legacySubscriptions!);
    }
  });

  it('validation names the bad field', () => {
    expect(() => validateScenario({ customers: [{ id: 'nope' }] })).toThrow(ScenarioError);
    expect(() => validateScenario({ customers: [{ id: 'nope' }] })).toThrow(/customers\[0\]\.id must be a GUID/);
    expect(() => validateScenario({ customers: [], faults: { everything: {} } })).toThrow(/faults\.everything/);
    expect(() => validateScenario({ customers: [], faults: { create: { status500: 2 } } })).toThrow(/status500/);
  });

  it('loads a scenario file and serves a 10,000-customer scenario with O(1) lookups', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sim-scenario-'));
    const file = path.join(dir, 'big.json');
    const generated = generateScenario({
      customers: 10_000,
      seed: 5,
      pendingSeconds: { min: 1, max: 1 },
      inProgressSeconds: { min: 9, max: 9 },
    });
    writeFileSync(file, JSON.stringify(generated));
    const clock = steppedClock();
    const sim = await startSimulator({ port: 0, scenario: loadScenario(file), clock });
    try {
      expect(sim.state.customerCount).toBe(10_000);
      const token = await accessToken(sim);
      const eligible = generated.customers.filter((x) => !x.ineligibleReason && x.outcome === 'Completed').slice(-200);
      const started = performance.now();
      const created = await Promise.all(
        eligible.map((x) => pc(sim, '/v1/productUpgrades', { customerId: x.id, productFamily: 'Azure' }, { token })),
      );
      expect(created.every((r) => r.status === 202)).toBe(true);
      expect(performance.now() - started).toBeLessThan(5000);
      clock.advance(10_000);
      const last = eligible[eligible.length - 1];
      const id = created[created.length - 1].headers.get('location')!.split('/')[1];
      const status = await json(
        await pc(sim, `/v1/productUpgrades/${id}/status`, { customerId: last.id, productFamily: 'Azure' }, { token }),
      );
      expect(status.status).toBe('Completed');
      expect(sim.state.upgradeStatusCounts()).toEqual({ Pending: 0, InProgress: 0, Completed: 200, Failed: 0 });
      const truth = await admin<{ count: number; upgrades: UpgradeTruth[] }>(
        sim,
        'GET',
        `/upgrades?customerId=${last.id}`,
      );
      expect(truth.count).toBe(1);
      expect(truth.upgrades[0].lineItems).toHaveLength(last.legacySubscriptions!);
    } finally {
      await sim.close();
    }
  });
});

describe('simulator admin API', () => {
  it('reads and advances a stepped clock, adds customers, resets counters', async () => {
    const sim = await startSimulator({ port: 0, clock: steppedClock('2026-05-01T00:00:00Z') });
    try {
      expect(await admin(sim, 'GET', '/clock')).toMatchObject({ kind: 'stepped', now: '2026-05-01T00:00:00.000Z' });
      expect(await admin(sim, 'POST', '/clock/advance', { ms: 90_000 })).toMatchObject({
        now: '2026-05-01T00:01:30.000Z',
      });
      const id = '77777777-0000-4000-8000-000000000000';
      expect(await admin(sim, 'POST', '/customers', { id, ineligibleReason: 'boughtRecently' })).toMatchObject({
        added: 1,
      });
      const token = await accessToken(sim);
      const check = await json(
        await pc(sim, '/v1/productUpgrades/eligibility', { customerId: id, productFamily: 'Azure' }, { token }),
      );
      expect(check).toMatchObject({ isEligible: false });
      expect(await admin(sim, 'GET', `/customers/${id}`)).toMatchObject({
        id,
        ineligibleReason: 'boughtRecently',
        upgradeIds: [],
      });
      expect(sim.state.counters().requests.eligibility.total).toBe(1);
      await admin(sim, 'POST', '/counters/reset');
      expect(sim.state.counters().requests).toEqual({});
      expect(await admin(sim, 'POST', '/customers', { id: 'bad' })).toMatchObject({
        error: expect.stringMatching(/GUID/),
      });
      const summary = await admin(sim, 'GET', '');
      expect(summary).toMatchObject({ simulator: 'partner-center', url: sim.url, tenantId: sim.credentials.tenantId });
      expect(JSON.stringify(summary)).not.toContain(sim.credentials.clientSecret);
      expect(JSON.stringify(summary)).not.toContain(sim.credentials.refreshToken);
    } finally {
      await sim.close();
    }
  });

  it('an accelerated clock cannot be advanced (409)', async () => {
    const sim = await startSimulator({ port: 0 });
    try {
      const response = await fetch(`${sim.url}/_sim/clock/advance`, { method: 'POST', body: '{"ms":1}' });
      expect(response.status).toBe(409);
    } finally {
      await sim.close();
    }
  });
});
