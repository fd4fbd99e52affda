import { startAzurite, type RunningAzurite } from '../../dev/azurite';

/** Starts one in-memory Azurite on free ports for the integration project; workers inherit the env var. */
export default async function globalSetup(): Promise<void> {
  const azurite = await startAzurite();
  (globalThis as { __AZURITE__?: RunningAzurite }).__AZURITE__ = azurite;
  process.env.AzureWebJobsStorage = azurite.connectionString;
  process.env.TEST_AZURITE_TABLE_PORT = String(azurite.tablePort);
  process.env.TEST_AZURITE_QUEUE_PORT = String(azurite.queuePort);
}
