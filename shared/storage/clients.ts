import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import type { StorageConfig } from '../config';
import { TABLES, type TableKey } from './names';

/** Azurite and other http endpoints need this flag; real accounts are https. */
function allowHttp(connectionOrUrl: string): boolean {
  return /UseDevelopmentStorage=true|http:\/\//i.test(connectionOrUrl);
}

let credential: TokenCredential | undefined;
function identity(clientId: string | undefined): TokenCredential {
  credential ??= new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
  return credential;
}

/** Full table name for a logical table, with the environment prefix (TABLE_NAME_PREFIX). */
export function tableName(key: TableKey, prefix = ''): string {
  return `${prefix}${TABLES[key]}`;
}

export function createTableClient(storage: StorageConfig, table: string): TableClient {
  if (storage.kind === 'connectionString') {
    return TableClient.fromConnectionString(storage.connectionString, table, {
      allowInsecureConnection: allowHttp(storage.connectionString),
    });
  }
  return new TableClient(storage.tableServiceUri, table, identity(storage.clientId), {
    allowInsecureConnection: allowHttp(storage.tableServiceUri),
  });
}

export function createQueueClient(storage: StorageConfig, queue: string): QueueClient {
  if (storage.kind === 'connectionString') {
    return new QueueClient(storage.connectionString, queue);
  }
  return new QueueClient(`${storage.queueServiceUri.replace(/\/+$/, '')}/${queue}`, identity(storage.clientId));
}
