/**
 * A small secret store: Key Vault in Azure, environment variables locally. Secrets are addressed by their setting
 * name (`PARTNER_CENTER_REFRESH_TOKEN`); the Key Vault implementation maps that to a secret name with dashes
 * (`partner-center-refresh-token`).
 */
export type SecretName =
  | 'PARTNER_CENTER_CLIENT_SECRET'
  | 'PARTNER_CENTER_REFRESH_TOKEN'
  | 'WEBHOOK_SIGNING_SECRET'
  | 'CALLBACK_SIGNING_SECRET';

export interface SecretStore {
  /** Which implementation this is, for the one start-up log line ("key-vault" | "environment" | "memory"). */
  readonly kind: string;
  /** The current value, or undefined when the secret does not exist. Never logs the value. */
  get(name: SecretName): Promise<string | undefined>;
  /** Writes a new value (a new version in Key Vault). */
  set(name: SecretName, value: string): Promise<void>;
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
