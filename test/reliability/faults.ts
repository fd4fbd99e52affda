import type { TableClient } from '@azure/data-tables';
import type { TableKey } from '../../shared/storage/names';
import type { Tables } from '../../shared/storage/tables';
import type { Prng } from './prng';
import type { Rig } from './rig';

/**
 * Tables whose clients are wrapped: the same object the app expects (`get` and `client`), each table client passed
 * through `wrap`. Used to count writes, inject conflicts, delays and crashes under the real store.
 */
export function wrapTables(inner: Tables, wrap: (key: TableKey, client: TableClient) => TableClient): Tables {
  const wrapped = new Map<TableKey, TableClient>();
  const of = (key: TableKey, client: TableClient) => {
    let w = wrapped.get(key);
    if (!w) {
      w = wrap(key, client);
      wrapped.set(key, w);
    }
    return w;
  };
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'get') return async (key: TableKey) => of(key, await target.get(key));
      if (property === 'client') return (key: TableKey) => of(key, target.client(key));
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

/** Proxies a table client, replacing the named methods. */
export function overrideMethods(
  client: TableClient,
  overrides: Partial<
    Record<string, (original: (...args: unknown[]) => Promise<unknown>, args: unknown[]) => Promise<unknown>>
  >,
): TableClient {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      const override = typeof property === 'string' ? overrides[property] : undefined;
      if (!override || typeof value !== 'function') return value;
      const original = (...args: unknown[]) => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      return (...args: unknown[]) => override(original, args);
    },
  });
}

export const WRITE_METHODS = ['createEntity', 'updateEntity', 'upsertEntity', 'deleteEntity', 'submitTransaction'];

/** Tables whose every write goes through `around` (to count, order, delay, fail or crash writes). */
export function wrapWrites(
  inner: Tables,
  around: (key: TableKey, method: string, write: () => Promise<unknown>) => Promise<unknown>,
): Tables {
  return wrapTables(inner, (key, client) =>
    overrideMethods(
      client,
      Object.fromEntries(
        WRITE_METHODS.map((method) => [method, (original, args) => around(key, method, () => original(...args))]),
      ),
    ),
  );
}

/**
 * A concurrent writer: before a seeded fraction of ETag-conditional updates, another writer merges nothing into the
 * same row first, so the row's ETag moves and the app's write meets a real 412 from the service.
 */
export class InterferingTables {
  conflictsCaused = 0;
  readonly tables: Tables;
  constructor(inner: Tables, probability: number, random: Prng) {
    this.tables = wrapTables(inner, (_key, client) =>
      overrideMethods(client, {
        updateEntity: async (original, args) => {
          const [entity, , options] = args as [{ partitionKey: string; rowKey: string }, string, { etag?: string }?];
          if (options?.etag && options.etag !== '*' && random.next() < probability) {
            await client.updateEntity({ partitionKey: entity.partitionKey, rowKey: entity.rowKey }, 'Merge');
            this.conflictsCaused++;
          }
          return original(...args);
        },
      }),
    );
  }
}

/** The operator "consents again" (device-code flow against the simulator): a fresh refresh token. */
export async function deviceCodeConsent(rig: Rig): Promise<string> {
  const { tenantId, clientId, clientSecret } = rig.sim.credentials;
  const scope = 'https://api.partnercenter.microsoft.com/.default offline_access';
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const code = (await (
    await fetch(`${rig.sim.url}/${tenantId}/oauth2/v2.0/devicecode`, {
      method: 'POST',
      headers,
      body: form({ client_id: clientId, scope }),
    })
  ).json()) as { device_code: string; user_code: string };
  await fetch(`${rig.sim.url}/_sim/devicecode/${code.user_code}/approve`, { method: 'POST' });
  const token = (await (
    await fetch(`${rig.sim.url}/${tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers,
      body: form({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        client_id: clientId,
        client_secret: clientSecret,
        device_code: code.device_code,
      }),
    })
  ).json()) as { refresh_token?: string };
  if (!token.refresh_token) throw new Error('device-code consent returned no refresh token');
  return token.refresh_token;
}
