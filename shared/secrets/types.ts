import type { SecretSettingName } from '../config';

/**
 * A small secret store: Key Vault in Azure, environment variables locally. Secrets are addressed by their setting
 * name (`PARTNER_CENTER_REFRESH_TOKEN`: the settings `shared/config.ts` marks secret); the Key Vault implementation
 * maps that to a secret name with dashes (`partner-center-refresh-token`).
 */
export type SecretName = SecretSettingName;

/** Key Vault tags: short name/value strings kept with one version of a secret. */
export type SecretTags = Readonly<Record<string, string>>;

/** The current version of a secret with what is stored beside its value. */
export interface SecretVersion {
  value: string;
  tags: SecretTags;
  /** When this version was created (ms since the epoch); undefined where the store cannot tell (environment). */
  createdOn: number | undefined;
}

export interface SecretStore {
  /** Which implementation this is, for the one start-up log line ("key-vault" | "environment" | "memory"). */
  readonly kind: string;
  /** The current value, or undefined when the secret does not exist. Never logs the value. */
  get(name: SecretName): Promise<string | undefined>;
  /** The current version with its tags, asked of the store itself (never from a cache); undefined when absent. */
  read(name: SecretName): Promise<SecretVersion | undefined>;
  /** Writes a new value (a new version in Key Vault), with tags when given. */
  set(name: SecretName, value: string, tags?: SecretTags): Promise<void>;
}

/** The Key Vault secret name for a setting name: upper snake case to lower kebab case. */
export function keyVaultSecretName(name: SecretName): string {
  return name.toLowerCase().replace(/_/g, '-');
}

/** Where secret stores report what operators must know (console satisfies it). Messages never hold a value. */
export interface SecretsLogger {
  info(message: string): void;
  warn(message: string): void;
}

/** Says nothing (local tools and tests). */
export const silentSecretsLogger: SecretsLogger = { info: () => undefined, warn: () => undefined };
