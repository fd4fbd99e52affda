import { randomUUID } from 'node:crypto';
import { RestError } from '@azure/core-rest-pipeline';
import type { HttpResponseInit } from '@azure/functions';
import { startSimulator, type RunningSimulator } from '../../../dev/simulator';
import { stackSettings } from '../../../dev/stack';
import { checkEligibility } from '../../../functions/checkEligibility';
import { loadConfig } from '../../../shared/config';
import { CachedSecretStore, EnvironmentSecretStore } from '../../../shared/secrets';
import { createServices, resetServices, type Services } from '../../../shared/services';
import { Tables } from '../../../shared/storage/tables';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import { invocationContext, signedPost } from '../../helpers/functions';
import { latch } from '../../helpers/latch';
import { wrapWrites } from '../../reliability/faults';
import { listEligibilityChecks } from '../../helpers/tracking-tables';
import { newSigningSecret } from '../../../shared/webhooks/signing';

const SECRET = newSigningSecret();

/**
 * The eligibility webhook's Table Storage round trips under its webhook-id, through the real function on Azurite and
 * the simulator: what runs at the same time (the order of starts and ends of every call, recorded as they happen),
 * and what is kept when the record of the check fails after the answer was stored.
 */
describe('eligibility webhook round trips (Azurite, simulator)', () => {
  let sim: RunningSimulator;
  let services: Services;
  /** `webhookIds.submitTransaction:start`, `partnerCenter.checkEligibility:end`, … in the order they happened. */
  const log: string[] = [];
  /** Called when the named call has ended (once). */
  const onEnd = new Map<string, () => void>();
  /** Replaces the next EligibilityChecks insert (fault injection). */
  let nextRecord: ((insert: () => Promise<unknown>) => Promise<unknown>) | undefined;

  async function logged<T>(name: string, action: () => Promise<T>): Promise<T> {
    log.push(`${name}:start`);
    try {
      return await action();
    } finally {
      log.push(`${name}:end`);
      onEnd.get(name)?.();
      onEnd.delete(name);
    }
  }

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    const settings = stackSettings({
      storage: process.env.AzureWebJobsStorage!,
      partnerCenter: sim,
      tablePrefix: 'rtrip',
      webhookSecret: SECRET,
    });
    const config = loadConfig(settings);
    const tables = wrapWrites(new Tables(config), (key, method, original) => {
      const write = () => logged(`${key}.${method}`, original);
      const fault = key === 'eligibilityChecks' && method === 'createEntity' ? nextRecord : undefined;
      if (!fault) return write();
      nextRecord = undefined;
      return fault(write);
    });
    const secrets = new CachedSecretStore(new EnvironmentSecretStore(settings), { ttlMs: 0 });
    services = createServices(config, { tables, secrets, telemetry: new RecordingTelemetry() });
    const partnerCenter = services.partnerCenter;
    services.partnerCenter = {
      ...partnerCenter,
      checkEligibility: (request, options) =>
        logged('partnerCenter.checkEligibility', () => partnerCenter.checkEligibility(request, options)),
      createUpgrade: (request, options) => partnerCenter.createUpgrade(request, options),
      getUpgradeStatus: (request, options) => partnerCenter.getUpgradeStatus(request, options),
    };
    resetServices(services);
  });
  afterAll(async () => {
    resetServices();
    await sim?.close();
  });
  beforeEach(() => {
    log.length = 0;
    onEnd.clear();
    nextRecord = undefined;
  });

  const customer = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

  function deliver(customerId: string, webhookId: string): Promise<HttpResponseInit> {
    return checkEligibility(
      signedPost('/api/eligibility', { customerId, productFamily: 'Azure' }, SECRET, { webhookId }),
      invocationContext({ functionName: 'checkEligibility' }),
    );
  }

  const at = (entry: string) => {
    const index = log.indexOf(entry);
    if (index < 0) throw new Error(`${entry} never happened: ${log.join(', ')}`);
    return index;
  };

  it('asks Partner Center while the webhook-id is reserved, then records the check while the answer is stored', async () => {
    const customerId = customer(1);
    const response = await deliver(customerId, randomUUID());
    expect(response.status).toBe(200);
    // Partner Center was asked before the reservation had landed, not after it.
    expect(at('partnerCenter.checkEligibility:start')).toBeLessThan(at('webhookIds.submitTransaction:end'));
    // The record and the stored answer were both on their way before either had landed.
    expect(at('eligibilityChecks.createEntity:start')).toBeLessThan(at('webhookIds.updateEntity:end'));
    expect(at('webhookIds.updateEntity:start')).toBeLessThan(at('eligibilityChecks.createEntity:end'));
    // Three writes in all: reserve, record, store the answer.
    expect(log.filter((e) => e.endsWith(':start') && !e.startsWith('partnerCenter'))).toHaveLength(3);
  });

  it('a repeated delivery gets the stored answer and records nothing', async () => {
    const customerId = customer(2);
    const eventId = randomUUID();
    const first = await deliver(customerId, eventId);
    log.length = 0;
    const repeat = await deliver(customerId, eventId);
    expect(repeat.jsonBody).toEqual(first.jsonBody);
    expect(repeat.headers).toMatchObject({ 'idempotent-replayed': 'true' });
    expect(log.filter((e) => e.startsWith('eligibilityChecks') || e.startsWith('webhookIds.update'))).toEqual([]);
    expect(await listEligibilityChecks(services.tables, customerId)).toHaveLength(1);
  });

  it('the record fails after the answer was stored: the answer is withdrawn, 503, and the retry runs again', async () => {
    const customerId = customer(3);
    const eventId = randomUUID();
    const stored = latch();
    // The record fails only once the answer has been stored, so withdrawing it is what the retry depends on.
    nextRecord = async () => {
      await stored.promise;
      throw new RestError('injected: Table Storage unavailable', { statusCode: 503 });
    };
    onEnd.set('webhookIds.updateEntity', stored.open);
    const failed = await deliver(customerId, eventId);
    expect(failed.status).toBe(503);
    expect(failed.headers).toMatchObject({ 'retry-after': expect.stringMatching(/^\d+$/) as unknown });
    // The answer was stored (one update), then withdrawn (a second update ending the lease) once it had landed.
    expect(log.filter((e) => e === 'webhookIds.updateEntity:start')).toHaveLength(2);
    expect(log.lastIndexOf('webhookIds.updateEntity:start')).toBeGreaterThan(at('webhookIds.updateEntity:end'));

    const retried = await deliver(customerId, eventId);
    expect(retried.status).toBe(200);
    expect(retried.headers).not.toHaveProperty('idempotent-replayed');
    expect(await listEligibilityChecks(services.tables, customerId)).toHaveLength(1);
  });

  it('an upgrade Partner Center reports is tracked before the answer naming it is stored', async () => {
    const customerId = customer(4);
    const created = await services.partnerCenter.createUpgrade({ customerId, productFamily: 'Azure' });
    const response = await deliver(customerId, randomUUID());
    expect(response.jsonBody).toMatchObject({ upgradeId: created.upgradeId.toLowerCase() });
    const stored = at('webhookIds.updateEntity:start');
    const tracked = log.filter(
      (e) => e.endsWith(':end') && !e.startsWith('webhookIds') && !e.startsWith('partnerCenter'),
    );
    expect(tracked.length).toBeGreaterThan(1); // the check, and the tracking's own writes
    for (const entry of tracked) expect(log.indexOf(entry)).toBeLessThan(stored);
    expect(await services.tracking.readUpgrade(created.upgradeId.toLowerCase())).toBeDefined();
  });
});
