import { randomBytes } from 'node:crypto';
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
