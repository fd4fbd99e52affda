import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { urlSetting } from '../shared/config';
import { createSecretStore, silentSecretsLogger, type CreateSecretStoreOptions } from '../shared/secrets';
import { newSigningSecret, parseSigningSecrets, readSigningSecrets, signWebhook } from '../shared/webhooks/signing';
import { loadLocalSettings } from './host/settings';

/**
 * Webhooks signed as the billing system signs them, for everything local that calls the app: the tests, the
 * benchmark and the demo (through the stack, `dev/stack.ts`) and `npm run sign`. Also the local stack's secret:
 * `npm start` gives the app a secret of its own when none is configured (made on the first start, kept with
 * Azurite's data so it survives restarts), and `npm run sign` signs with whatever secret `npm start` gives the app.
 */

/** How a webhook is signed: its `webhook-id` (default a new one) and when (unix seconds, default now). */
export interface SignOptions {
  webhookId?: string;
  at?: number;
}

/**
 * The headers that sign a webhook body as the billing system signs it (Standard Webhooks: webhook-id,
 * webhook-timestamp, webhook-signature), with a new `msg_` id unless one is given. The one place requests are signed.
 */
export function signedHeaders(
  rawBody: string | Buffer,
  secret: string,
  options: SignOptions = {},
): Record<string, string> {
  return signWebhook([secret], options.webhookId ?? newWebhookId(), rawBody, options.at);
}

/** A fresh webhook-id, shaped as Standard Webhooks senders make them. */
export function newWebhookId(): string {
  return `msg_${randomUUID().replace(/-/g, '')}`;
}

/** Where `npm start` keeps its own secret, under the project root (`.azurite/` is git-ignored). */
export const LOCAL_SIGNING_SECRET_FILE = path.join('.azurite', 'webhook-signing-secret');

function readSecretFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** `npm start`'s own secret: the one kept in `.azurite/`, or a new one written there (readable by its owner only). */
export function localSigningSecret(root: string): { secret: string; created: boolean } {
  const file = path.join(root, LOCAL_SIGNING_SECRET_FILE);
  const kept = readSecretFile(file);
  if (kept) return { secret: kept, created: false };
  const secret = newSigningSecret();
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { secret, created: true };
}

/** How `localWebhookSecret` reaches Key Vault: the credential and client options (tests); default as the app. */
export type LocalVaultAccess = Pick<CreateSecretStoreOptions, 'credential' | 'clientOptions'>;

/**
 * The secret a request to the local app is signed with, read where `npm start` has the app read it: with
 * `KEY_VAULT_URL` set, from that Key Vault through the app's own secret store (signed in as the app would be, e.g.
 * `az login`); else `WEBHOOK_SIGNING_SECRET` (the environment, else `local.settings.json` or the sample; the first of
 * a rotation list), else `npm start`'s own. Undefined when there is none yet (`npm start` never ran). Throws naming
 * the setting when it is malformed, or not in the vault.
 */
export async function localWebhookSecret(
  root: string,
  env: NodeJS.ProcessEnv = process.env,
  vault: LocalVaultAccess = {},
): Promise<string | undefined> {
  const settings = loadLocalSettings(root, env).values;
  const keyVaultUrl = urlSetting(settings, 'KEY_VAULT_URL');
  if (keyVaultUrl) {
    const store = createSecretStore(
      { secrets: { keyVaultUrl, cacheTtlMs: 0 } },
      { logger: silentSecretsLogger, env: settings, ...vault },
    );
    const read = await readSigningSecrets(store, 'WEBHOOK_SIGNING_SECRET');
    if (!read.ok) throw new Error(`${read.problem} in Key Vault ${keyVaultUrl}`);
    return read.secrets[0];
  }
  const parsed = parseSigningSecrets(settings.WEBHOOK_SIGNING_SECRET);
  if (!parsed.ok) throw new Error(`WEBHOOK_SIGNING_SECRET ${parsed.problem}`);
  return parsed.secrets[0] ?? readSecretFile(path.join(root, LOCAL_SIGNING_SECRET_FILE));
}
