import { randomBytes } from 'node:crypto';
import type { Timer } from '@azure/functions';
import {
  appSettingsFor,
  generateFleetScenario,
  startSimulator,
  steppedClock,
  type RunningSimulator,
} from '../../../dev/simulator';
import { pollUpgrades } from '../../../functions/pollUpgrades';
import { loadConfig } from '../../../shared/config';
import { CachedSecretStore, EnvironmentSecretStore } from '../../../shared/secrets';
import { createServices, resetServices, type Services } from '../../../shared/services';
import { createQueueClient } from '../../../shared/storage/clients';
import { invocationContext } from '../../helpers/functions';
import { describeSettingProbes, type Probe } from './probes';
import { QUIET_SCHEDULE } from '../../../dev/stack';

/**
 * Every fleet setting the README's settings table documents changes what the app does, observed through the real
 * timer function (pollUpgrades) against the simulator and Azurite, at the setting's default and at another value.
 */

jest.setTimeout(120_000);

const timer = { isPastDue: false } as Timer;
let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({
    clock: steppedClock('2026-05-01T00:00:00Z'),
    scenario: generateFleetScenario({ customers: 12, seed: 3 }),
  });
});
afterAll(async () => {
  resetServices();
  await sim?.close();
});

/** The app's services from its settings (plus `settings`), installed for the function handlers. */
async function app(settings: Record<string, string>): Promise<Services> {
  const env = {
    ...appSettingsFor(sim),
    AzureWebJobsStorage: process.env.AzureWebJobsStorage ?? '',
    TABLE_NAME_PREFIX: `fset${randomBytes(4).toString('hex')}`,
    KEY_VAULT_URL: '',
    POLL_RATE_PER_SECOND: '1000',
    POLL_SCHEDULE: QUIET_SCHEDULE,
    ...settings,
  };
  const config = loadConfig(env);
  const queue = (name: string) => createQueueClient(config.storage, `fset-${name}-${randomBytes(4).toString('hex')}`);
  const services = createServices(config, {
    // The simulator's local credentials, read as the app reads secrets without Key Vault.
    secrets: new CachedSecretStore(new EnvironmentSecretStore(env), { ttlMs: 300_000 }),
    queues: {
      upgradeTracking: queue('track'),
      upgradeNotifications: queue('notify'),
      upgradeNotificationsPoison: queue('poison'),
    },
  });
  await services.queues.upgradeTracking.createIfNotExists();
  resetServices(services);
  return services;
}

/** A timer run at `at` (the app's wall clock). */
async function runAt(at: string): Promise<void> {
  const now = jest.spyOn(Date, 'now').mockReturnValue(Date.parse(at));
  try {
    await pollUpgrades(timer, invocationContext({ functionName: 'pollUpgrades' }));
  } finally {
    now.mockRestore();
  }
}

const probes: Record<string, Probe> = {
  FLEET_SCAN_SCHEDULE: {
    changed: '0 0 3 * * *',
    // A fresh deployment's first timer run at 01:00 UTC, then one at 02:30: by the default (daily at 02:00) a
    // scheduled scan starts in the second run and, the fleet being small, completes in it; at 03:00 daily, not yet.
    observe: async (value) => {
      const services = await app(value === undefined ? {} : { FLEET_SCAN_SCHEDULE: value });
      await runAt('2026-05-01T01:00:00.000Z');
      const anchored = await services.fleet.readSlot();
      await runAt('2026-05-01T02:30:00.000Z');
      const slot = await services.fleet.readSlot();
      return {
        firstRun: anchored?.scan ? 'scanned' : 'anchored',
        secondRun: slot?.scan
          ? { trigger: slot.scan.trigger, state: slot.scan.state, checked: slot.scan.counts.checked }
          : 'none',
      };
    },
    atDefault: { firstRun: 'anchored', secondRun: { trigger: 'schedule', state: 'completed', checked: 12 } },
    atChanged: { firstRun: 'anchored', secondRun: 'none' },
  },
};

describeSettingProbes('fleet settings: each one documented changes what the app does', 'FLEET_', probes, 1);
