import { randomBytes } from 'node:crypto';
import {
  appSettingsFor,
  startSimulator,
  steppedClock,
  type RunningSimulator,
  type Scenario,
} from '../../../dev/simulator';
import { QUIET_SCHEDULE, stackServices } from '../../../dev/stack';
import { loadConfig } from '../../../shared/config';
import { resetServices, type Services } from '../../../shared/services';
import { createQueueClient } from '../../../shared/storage/clients';

/**
 * The app's services built from its settings, as the app builds them (`stackServices`), installed for the function
 * handlers (`getServices`), on the shared test Azurite with tables and queues of their own (each call a fresh
 * prefix), no Key Vault (secrets are the settings' values) and a quiet poll schedule; `settings` come last, and
 * `overrides` replace parts of the services (a scripted Partner Center, recorded telemetry).
 */
export function installedApp(
  prefix: string,
  settings: Record<string, string>,
  overrides: Partial<Services> = {},
): Services {
  const id = `${prefix}${randomBytes(4).toString('hex')}`;
  const env = {
    AzureWebJobsStorage: process.env.AzureWebJobsStorage ?? '',
    TABLE_NAME_PREFIX: id,
    KEY_VAULT_URL: '',
    POLL_SCHEDULE: QUIET_SCHEDULE,
    ...settings,
  };
  const { storage } = loadConfig(env);
  const queue = (name: string) => createQueueClient(storage, `${id}-${name}`);
  const services = stackServices(env, {
    queues: {
      upgradeTracking: queue('track'),
      upgradeNotifications: queue('notify'),
      upgradeNotificationsPoison: queue('poison'),
    },
    ...overrides,
  });
  resetServices(services);
  return services;
}

/**
 * For a test file that runs the app against a fleet: a Partner Center simulator playing `scenario` on a stepped clock,
 * started before the file's tests and closed after them (the installed services reset). Returns `installedApp` on that
 * simulator, with a budget that never throttles.
 */
export function fleetApp(prefix: string, scenario: Scenario): (settings: Record<string, string>) => Services {
  let sim: RunningSimulator | undefined;
  beforeAll(async () => {
    sim = await startSimulator({ clock: steppedClock('2026-05-01T00:00:00Z'), scenario });
  });
  afterAll(async () => {
    resetServices();
    await sim?.close();
  });
  return (settings) => {
    if (!sim) throw new Error('the fleet simulator starts before the tests');
    return installedApp(prefix, { ...appSettingsFor(sim), POLL_RATE_PER_SECOND: '1000', ...settings });
  };
}
