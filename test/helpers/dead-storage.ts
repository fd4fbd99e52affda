import { AZURITE_ACCOUNT, AZURITE_KEY } from '../../dev/azurite';
import { freePort } from '../../dev/free-port';

/**
 * A storage connection string whose endpoints are a free loopback port where nothing listens: every table, queue and
 * blob call fails (once the storage SDK's retries are spent, a few seconds).
 */
export async function deadStorageConnectionString(): Promise<string> {
  const dead = await freePort();
  const endpoint = (service: string) => `${service}Endpoint=http://127.0.0.1:${dead}/${AZURITE_ACCOUNT};`;
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    endpoint('Blob') +
    endpoint('Queue') +
    endpoint('Table')
  );
}
