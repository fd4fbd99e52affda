import type { SecretName, SecretStore } from './types';

/**
 * A secret holding several comma-separated values (`WEBHOOK_SIGNING_SECRET` during a rotation: the new and the old
 * secret). Blanks are dropped; an unset secret is an empty list.
 */
export function parseSecretList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

export async function getSecretList(store: SecretStore, name: SecretName): Promise<string[]> {
  return parseSecretList(await store.get(name));
}
