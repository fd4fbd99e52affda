import { DefaultAzureCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/core-auth';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import { describeFailure, SecretUnavailableError, SecretWriteError } from './errors';
import { keyVaultSecretName, type SecretName, type SecretStore, type SecretTags, type SecretVersion } from './types';

export interface KeyVaultSecretStoreOptions {
  /** Defaults to `DefaultAzureCredential`, with `managedIdentityClientId` when a user-assigned identity is named. */
  credential?: TokenCredential;
  /** `AZURE_CLIENT_ID`: the user-assigned managed identity to use. */
  managedIdentityClientId?: string;
  /** Passed to `SecretClient` (tests: `allowInsecureConnection`, `disableChallengeResourceVerification`, retries). */
  clientOptions?: SecretClientOptions;
  /** Bound on one get or set, retries included (the SDK sets none, and a hanging vault must not hang a run). */
  timeoutMs?: number;
}

/** Bound on one get or set, retries included; `npm run consent` waits longer than this before checking its write. */
export const KEY_VAULT_TIMEOUT_MS = 20_000;

function isSecretNotFound(error: unknown): boolean {
  const { statusCode } = (error ?? {}) as { statusCode?: unknown };
  return statusCode === 404;
}

/**
 * Secrets in Key Vault through the SDK's `SecretClient` (its pipeline brings the challenge authentication, retries
 * with Retry-After and tracing). Every failure is reported as an error naming the vault and the secret, never a value.
 */
export class KeyVaultSecretStore implements SecretStore {
  readonly kind = 'key-vault';
  private readonly client: SecretClient;
  private readonly timeoutMs: number;

  constructor(
    readonly vaultUrl: string,
    options: KeyVaultSecretStoreOptions = {},
  ) {
    const credential =
      options.credential ??
      new DefaultAzureCredential(
        options.managedIdentityClientId ? { managedIdentityClientId: options.managedIdentityClientId } : {},
      );
    this.client = new SecretClient(vaultUrl, credential, options.clientOptions);
    this.timeoutMs = options.timeoutMs ?? KEY_VAULT_TIMEOUT_MS;
  }

  /** The current version's value; undefined when the secret does not exist (404 SecretNotFound). */
  async get(name: SecretName): Promise<string | undefined> {
    return (await this.read(name))?.value;
  }

  /** The current version with its tags and creation time; undefined when the secret does not exist. */
  async read(name: SecretName): Promise<SecretVersion | undefined> {
    const secretName = keyVaultSecretName(name);
    try {
      const secret = await this.client.getSecret(secretName, { abortSignal: AbortSignal.timeout(this.timeoutMs) });
      if (secret.value === undefined) return undefined;
      return {
        value: secret.value,
        tags: { ...secret.properties.tags },
        createdOn: secret.properties.createdOn?.getTime(),
      };
    } catch (error) {
      if (isSecretNotFound(error)) return undefined;
      throw new SecretUnavailableError(this.vaultUrl, secretName, describeFailure(error), { cause: error });
    }
  }

  /** Writes a new version with its tags (older versions stay readable by version in the vault). */
  async set(name: SecretName, value: string, tags?: SecretTags): Promise<void> {
    const secretName = keyVaultSecretName(name);
    try {
      await this.client.setSecret(secretName, value, {
        abortSignal: AbortSignal.timeout(this.timeoutMs),
        ...(tags ? { tags: { ...tags } } : {}),
      });
    } catch (error) {
      // No `cause`: the SDK error carries the request, whose body holds the value.
      throw new SecretWriteError(this.vaultUrl, secretName, describeFailure(error));
    }
  }
}
