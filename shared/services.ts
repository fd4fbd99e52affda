import type { QueueClient } from '@azure/storage-queue';
import { loadConfig, type AppConfig } from './config';
import { poisonQueueName } from './queues/poison';
import {
  createPartnerCenterClient,
  createRefreshTokenOwner,
  type PartnerCenterLogger,
  type ProductUpgrades,
  type RefreshTokenOwner,
} from './partner-center';
import { createSecretStore, type CachedSecretStore } from './secrets';
import { createQueueClient } from './storage/clients';
import { QUEUES } from './storage/names';
import { Tables } from './storage/tables';
import { createTelemetry, type Telemetry } from './telemetry';
import { TrackingStore } from './tracking';

/**
 * The composition root: every long-lived object the functions use, built once per process from the validated
 * config. Functions call `getServices()`; tests build their own with `createServices(config, overrides)` and install
 * it with `resetServices(services)`.
 */
export interface Services {
  config: AppConfig;
  tables: Tables;
  telemetry: Telemetry;
  secrets: CachedSecretStore;
  /** The one owner of the Partner Center refresh token; `consent.flush()` writes a pending rotation back now. */
  consent: RefreshTokenOwner;
  partnerCenter: ProductUpgrades;
  tracking: TrackingStore;
  queues: { upgradeTracking: QueueClient; upgradeNotifications: QueueClient; upgradeNotificationsPoison: QueueClient };
}

/** Console logging for the SDK-facing parts; values passed here never include secrets (see each caller). */
const partnerCenterLogger: PartnerCenterLogger = (level, message, properties) => {
  const line = properties && Object.keys(properties).length > 0 ? `${message} ${JSON.stringify(properties)}` : message;
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else if (level === 'info') console.info(line);
};

export function createServices(config: AppConfig = loadConfig(), overrides: Partial<Services> = {}): Services {
  const tables = overrides.tables ?? new Tables(config);
  const telemetry = overrides.telemetry ?? createTelemetry(config);
  const secrets = overrides.secrets ?? createSecretStore(config, { logger: console });
  const consent = overrides.consent ?? createRefreshTokenOwner(config, secrets, partnerCenterLogger);
  return {
    config,
    tables,
    telemetry,
    secrets,
    consent,
    partnerCenter:
      overrides.partnerCenter ??
      createPartnerCenterClient(config, secrets, { telemetry, logger: partnerCenterLogger, consent }),
    tracking: overrides.tracking ?? new TrackingStore(tables),
    queues: overrides.queues ?? {
      upgradeTracking: createQueueClient(config.storage, QUEUES.upgradeTracking),
      upgradeNotifications: createQueueClient(config.storage, QUEUES.upgradeNotifications),
      upgradeNotificationsPoison: createQueueClient(config.storage, poisonQueueName(QUEUES.upgradeNotifications)),
    },
  };
}

let current: Services | undefined;

export function getServices(): Services {
  current ??= createServices();
  return current;
}

export function resetServices(services?: Services): void {
  current = services;
}
