import { RestError, type TableClient, type TableEntity } from '@azure/data-tables';
import type { AppConfig } from '../config';
import { createTableClient, tableName } from './clients';
import { TABLES, type TableKey } from './names';

/**
 * Table clients for the app's logical tables. Each table is created when first used (Azure creates them through
 * infra; Azurite and a fresh account need this), once per process.
 */
export class Tables {
  private readonly clients = new Map<TableKey, TableClient>();
  private readonly created = new Map<TableKey, Promise<void>>();

  constructor(private readonly config: Pick<AppConfig, 'storage' | 'tableNamePrefix'>) {}

  /** The client for a table, without a create round-trip (for paths that handle TableNotFound themselves). */
  client(key: TableKey): TableClient {
    let client = this.clients.get(key);
    if (!client) {
      client = createTableClient(this.config.storage, tableName(key, this.config.tableNamePrefix));
      this.clients.set(key, client);
    }
    return client;
  }

  /** The client for a table that exists (created once per process when missing). */
  async get(key: TableKey): Promise<TableClient> {
    const client = this.client(key);
    let creation = this.created.get(key);
    if (!creation) {
      creation = client.createTable().catch((error: unknown) => {
        this.created.delete(key);
        throw error;
      });
      this.created.set(key, creation);
    }
    await creation;
    return client;
  }

  /**
   * Every table of the app, as the deployment creates them (`infra/main.bicep`), for an account no deployment
   * provisioned: Azurite under `npm start`, and tests that stand in for a deployment.
   */
  async createAll(): Promise<void> {
    await Promise.all((Object.keys(TABLES) as TableKey[]).map((key) => this.get(key)));
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof RestError && error.statusCode === 404;
}

export function isConflict(error: unknown): boolean {
  return error instanceof RestError && error.statusCode === 409;
}

export function isPreconditionFailed(error: unknown): boolean {
  return error instanceof RestError && error.statusCode === 412;
}

/**
 * Writes an insert-only row: false when a row with its keys is already there. Insert-only rows derive their keys from
 * what they record, so that row was written by an earlier try of the same write (a retry or a replay).
 */
export async function createIfAbsent<T extends object>(client: TableClient, entity: TableEntity<T>): Promise<boolean> {
  try {
    await client.createEntity(entity);
    return true;
  } catch (error) {
    if (isConflict(error)) return false;
    throw error;
  }
}
