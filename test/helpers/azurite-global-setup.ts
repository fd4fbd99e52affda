import { startAzurite, type RunningAzurite } from '../../dev/azurite';

interface Shared {
  __AZURITE__?: RunningAzurite;
  __AZURITE_USERS__?: number;
}

/**
 * Starts one in-memory Azurite on free ports for the projects that need storage; workers inherit the env var.
 * Several projects (integration, reliability) declare this setup: they share one Azurite, counted, so that the
 * last teardown stops it and none is left running.
 */
export default async function globalSetup(): Promise<void> {
  const shared = globalThis as Shared;
  shared.__AZURITE_USERS__ = (shared.__AZURITE_USERS__ ?? 0) + 1;
  if (shared.__AZURITE__) return;
  const azurite = await startAzurite();
  shared.__AZURITE__ = azurite;
  process.env.AzureWebJobsStorage = azurite.connectionString;
  process.env.TEST_AZURITE_TABLE_PORT = String(azurite.tablePort);
  process.env.TEST_AZURITE_QUEUE_PORT = String(azurite.queuePort);
}
