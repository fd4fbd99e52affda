import { CronExpressionParser } from 'cron-parser';
import { GUID_PATTERN } from './ids';
import { httpsOrLoopbackProblem } from './net/urls';
import { parseSigningSecrets } from './webhooks/signing';

/**
 * The app's settings: one typed, validated object. Every setting name the app reads appears in this file once
 * (tests and infra cross-check against `SETTING_NAMES`). A missing or malformed required setting throws a
 * ConfigError that names it, so a bad deployment fails at start rather than on the first request.
 */

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    problem: string,
  ) {
    super(`Setting ${setting} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** A row of SETTINGS: whether the app refuses to start without it, whether it holds a secret, what it means. */
export interface SettingSpec {
  readonly required: boolean;
  readonly secret: boolean;
  readonly description: string;
}

const optional = (description: string) => ({ required: false, secret: false, description }) as const;
const mandatory = (description: string) => ({ required: true, secret: false, description }) as const;
/** Read through the secret store (Key Vault in Azure), never from app settings there; never logged. */
const secret = (description: string) => ({ required: false, secret: true, description }) as const;

/** Every setting the app reads, one line each (defaults are where each is read, in `loadConfig`). */
export const SETTINGS = {
  AzureWebJobsStorage: optional('storage connection string (local); in Azure the identity-based settings below'),
  AzureWebJobsStorage__tableServiceUri: optional('identity-based storage: table endpoint'),
  AzureWebJobsStorage__queueServiceUri: optional('identity-based storage: queue endpoint'),
  AzureWebJobsStorage__clientId: optional('identity-based storage: user-assigned identity client id'),
  TABLE_NAME_PREFIX: optional('prefix for every table name (isolates environments sharing one account)'),
  PARTNER_CENTER_API_URL: optional('Partner Center REST base URL'),
  PARTNER_CENTER_AUTHORITY_HOST: optional('Entra ID host of the token endpoint'),
  PARTNER_CENTER_TENANT_ID: mandatory('the partner tenant (GUID or domain)'),
  PARTNER_CENTER_CLIENT_ID: mandatory('the consented app registration (GUID)'),
  PARTNER_CENTER_APPLICATION_NAME: optional('sent as MS-PartnerCenter-Application'),
  PARTNER_CENTER_TIMEOUT_SECONDS: optional('timeout of one Partner Center attempt'),
  PARTNER_CENTER_MAX_ATTEMPTS: optional('attempts per Partner Center call (retries + 1)'),
  KEY_VAULT_URL: optional('Key Vault holding the secrets; unset: environment variables'),
  SECRET_CACHE_TTL_SECONDS: optional('how long a secret read is cached in memory'),
  REFRESH_TOKEN_WRITE_INTERVAL_MINUTES: optional('least time between two write-backs of the rotated refresh token'),
  PARTNER_CENTER_CLIENT_SECRET: secret('the app registration secret'),
  PARTNER_CENTER_REFRESH_TOKEN: secret('the consented refresh token'),
  WEBHOOK_SIGNING_SECRET: secret("verifies the billing system's webhooks: whsec_ secret(s), comma-separated"),
  CALLBACK_SIGNING_SECRET: secret('signs billing callbacks: whsec_ secret(s), comma-separated'),
  WEBHOOK_SIGNATURES: optional('"required" (default), or "disabled": a local opt-out, refused in Azure'),
  POLL_SCHEDULE: mandatory("the poller's NCRONTAB schedule (the host resolves %POLL_SCHEDULE% from app settings only)"),
  POLL_CONCURRENCY: optional('status calls in flight at once'),
  POLL_RATE_PER_SECOND: optional('status calls per second, shared by the run'),
  POLL_TIME_BUDGET_SECONDS: optional('a run starts no new poll after this'),
  POLL_FIRST_DELAY_SECONDS: optional('first poll this long after tracking starts'),
  POLL_MIN_INTERVAL_SECONDS: optional('backoff start between polls'),
  POLL_MAX_INTERVAL_SECONDS: optional('backoff cap between polls'),
  POLL_MAX_AGE_DAYS: optional('an upgrade not final after this becomes Stale'),
  FLEET_SCAN_SCHEDULE: optional("the fleet scan's NCRONTAB schedule"),
  WAVE_CREATES_PER_MINUTE: optional('customers a fleet wave starts per minute (re-check, then create); per wave too'),
  BILLING_CALLBACK_URL: optional('where final results are posted; unset: no callbacks'),
  CALLBACK_TIMEOUT_SECONDS: optional('timeout of one billing callback POST'),
  CALLBACK_MAX_ATTEMPTS: optional('billing callback attempts before the message goes to the poison queue'),
  CALLBACK_RETRY_BASE_SECONDS: optional('first billing callback retry delay; doubles per attempt, up to an hour'),
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: optional('Entra auth for telemetry: ClientId=<id>;Authorization=AAD'),
  APPLICATIONINSIGHTS_CONNECTION_STRING: optional('Application Insights; unset: console only'),
} satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];
/** The settings that hold secret values: read through the secret store (`SecretName`), never logged. */
export type SecretSettingName = {
  [K in SettingName]: (typeof SETTINGS)[K]['secret'] extends true ? K : never;
}[SettingName];
export const SECRET_SETTING_NAMES: readonly SettingName[] = SETTING_NAMES.filter((n) => SETTINGS[n].secret);

export interface PollConfig {
  schedule: string;
  concurrency: number;
  ratePerSecond: number;
  timeBudgetMs: number;
  firstDelayMs: number;
  minIntervalMs: number;
  maxIntervalMs: number;
  maxAgeMs: number;
}

export interface FleetConfig {
  /** Six-field NCRONTAB: a scan starts in the first timer run after an occurrence. */
  scanSchedule: string;
  /** The pace of a wave that names none: customers started (eligibility re-checked, then created) per minute. */
  waveCreatesPerMinute: number;
}

/** Bounds of a wave's pace (WAVE_CREATES_PER_MINUTE, and the pace a wave may name). */
export const WAVE_PACE_LIMITS = { min: 1, max: 600, default: 30 } as const;

/** Local: a connection string (Azurite). Azure: identity-based endpoints (no shared keys). */
export type StorageConfig =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'identity'; tableServiceUri: string; queueServiceUri: string; clientId: string | undefined };

export interface AppConfig {
  storage: StorageConfig;
  tableNamePrefix: string;
  partnerCenter: {
    apiUrl: string;
    authorityHost: string;
    tenantId: string;
    clientId: string;
    applicationName: string;
    attemptTimeoutMs: number;
    maxAttempts: number;
  };
  secrets: {
    keyVaultUrl: string | undefined;
    cacheTtlMs: number;
    refreshTokenWriteIntervalMs: number;
  };
  poll: PollConfig;
  fleet: FleetConfig;
  /** Whether POST webhooks must be signed: always in Azure; `disabled` only as an explicit local opt-out. */
  webhookSignatures: WebhookSignatures;
  billingCallbackUrl: string | undefined;
  callbacks: { timeoutMs: number; maxAttempts: number; retryBaseMs: number };
  appInsightsConnectionString: string | undefined;
  appInsightsAuthenticationString: string | undefined;
}

export type WebhookSignatures = 'required' | 'disabled';

/** Set by the platform on every instance in Azure (never an app setting): how the app knows it runs there. */
const AZURE_INSTANCE_VARIABLE = 'WEBSITE_INSTANCE_ID';

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const TABLE_PREFIX = /^[A-Za-z][A-Za-z0-9]{0,19}$/;

function read(env: Env, name: SettingName): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function required(env: Env, name: SettingName): string {
  const value = read(env, name);
  if (value === undefined) throw new ConfigError(name, 'is required but not set');
  return value;
}

function url(env: Env, name: SettingName, fallback?: string): string | undefined {
  const value = read(env, name) ?? fallback;
  if (value === undefined) return undefined;
  const problem = httpsOrLoopbackProblem(value);
  if (problem) throw new ConfigError(name, problem);
  return value.replace(/\/+$/, '');
}

function number(env: Env, name: SettingName, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(name, `must be a number from ${min} to ${max}`);
  }
  return value;
}

/**
 * A schedule as the timer trigger reads it: NCRONTAB, six fields with seconds first, times in UTC (Azure's default
 * time zone). Each field is a list of `*`, a number or a three-letter name, an optional `-` range and `/` step; what
 * cron-parser reads beyond that (`L`, `W`, `#`, `?`, `H`) is refused, as NCRONTAB refuses it. The local Functions host
 * runs timers with this too, so the app and the host agree on what a schedule means.
 */
export interface NcrontabSchedule {
  readonly expression: string;
  /** The first occurrence strictly after `after` (epoch ms). */
  next(after: number): number;
}

const NCRONTAB_ELEMENT = /^(?:\*|\d+|[a-z]{3})(?:-(?:\d+|[a-z]{3}))?(?:\/\d+)?$/i;

/** Throws an Error that says what is wrong with the expression. */
export function parseNcrontab(expression: string): NcrontabSchedule {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new Error(`it has ${fields.length} fields, not six ({second} {minute} {hour} {day} {month} {day-of-week})`);
  }
  const unknown = fields.find((field) => !field.split(',').every((element) => NCRONTAB_ELEMENT.test(element)));
  if (unknown !== undefined) throw new Error(`"${unknown}" is not an NCRONTAB field`);
  const cron = CronExpressionParser.parse(fields.join(' '), { tz: 'UTC' }); // throws naming the bad value
  return {
    expression,
    next(after) {
      cron.reset(new Date(after));
      return cron.next().getTime();
    },
  };
}

/** A six-field NCRONTAB setting; required unless a fallback is given. */
function ncrontab(env: Env, name: SettingName, fallback?: string): string {
  const value = fallback === undefined ? required(env, name) : (read(env, name) ?? fallback);
  try {
    parseNcrontab(value);
  } catch (error) {
    throw new ConfigError(
      name,
      `must be a six-field NCRONTAB expression, seconds first, e.g. "0 */5 * * * *" (${(error as Error).message})`,
    );
  }
  return value;
}

function storageConfig(env: Env): StorageConfig {
  const connectionString = read(env, 'AzureWebJobsStorage');
  if (connectionString) {
    if (connectionString !== 'UseDevelopmentStorage=true' && !/AccountName=|TableEndpoint=/i.test(connectionString)) {
      throw new ConfigError('AzureWebJobsStorage', 'is not a storage connection string');
    }
    return { kind: 'connectionString', connectionString };
  }
  const tableServiceUri = url(env, 'AzureWebJobsStorage__tableServiceUri');
  const queueServiceUri = url(env, 'AzureWebJobsStorage__queueServiceUri');
  if (!tableServiceUri || !queueServiceUri) {
    throw new ConfigError(
      'AzureWebJobsStorage',
      'is required: a connection string, or AzureWebJobsStorage__tableServiceUri and __queueServiceUri for identity-based access',
    );
  }
  return { kind: 'identity', tableServiceUri, queueServiceUri, clientId: read(env, 'AzureWebJobsStorage__clientId') };
}

/**
 * `WEBHOOK_SIGNATURES`: `required` unless a local stack opts out with `disabled`, which is refused in Azure so that a
 * deployment can never take unsigned webhooks.
 */
function webhookSignatures(env: Env): WebhookSignatures {
  const value = (read(env, 'WEBHOOK_SIGNATURES') ?? 'required').toLowerCase();
  if (value !== 'required' && value !== 'disabled') {
    throw new ConfigError('WEBHOOK_SIGNATURES', 'must be "required" or "disabled"');
  }
  if (value === 'disabled' && env[AZURE_INSTANCE_VARIABLE]?.trim()) {
    throw new ConfigError(
      'WEBHOOK_SIGNATURES',
      `is "disabled", which is refused when the app runs in Azure (${AZURE_INSTANCE_VARIABLE} is set): POST webhooks must be signed`,
    );
  }
  return value;
}

/**
 * The signing secrets, when they are environment settings (no Key Vault): a malformed one stops the start, naming
 * the setting (never the value). Secrets in Key Vault are checked where they are read.
 */
function checkSigningSecrets(env: Env, keyVaultUrl: string | undefined): void {
  if (keyVaultUrl) return;
  for (const name of ['WEBHOOK_SIGNING_SECRET', 'CALLBACK_SIGNING_SECRET'] as const) {
    const parsed = parseSigningSecrets(read(env, name));
    if (!parsed.ok) throw new ConfigError(name, parsed.problem);
  }
}

/** The partner tenant and the consented app, validated (shared with `npm run consent`). */
export function partnerIdentity(env: Env): { tenantId: string; clientId: string } {
  const tenantId = required(env, 'PARTNER_CENTER_TENANT_ID');
  if (!GUID_PATTERN.test(tenantId) && !DOMAIN.test(tenantId)) {
    throw new ConfigError('PARTNER_CENTER_TENANT_ID', 'must be a tenant GUID or a domain name');
  }
  const clientId = required(env, 'PARTNER_CENTER_CLIENT_ID');
  if (!GUID_PATTERN.test(clientId)) throw new ConfigError('PARTNER_CENTER_CLIENT_ID', 'must be a GUID');
  return { tenantId, clientId };
}

/** A URL setting: absolute, https (plain http only for loopback), without a trailing slash. */
export function urlSetting(env: Env, name: SettingName, fallback?: string): string | undefined {
  return url(env, name, fallback);
}

export function loadConfig(env: Env = process.env): AppConfig {
  const { tenantId, clientId } = partnerIdentity(env);
  const tableNamePrefix = read(env, 'TABLE_NAME_PREFIX') ?? '';
  if (tableNamePrefix && !TABLE_PREFIX.test(tableNamePrefix)) {
    throw new ConfigError('TABLE_NAME_PREFIX', 'must be letters and digits, starting with a letter, at most 20');
  }
  const minIntervalMs = number(env, 'POLL_MIN_INTERVAL_SECONDS', 60, 1, 86_400) * 1000;
  const maxIntervalMs = number(env, 'POLL_MAX_INTERVAL_SECONDS', 1800, 1, 7 * 86_400) * 1000;
  if (maxIntervalMs < minIntervalMs) {
    throw new ConfigError('POLL_MAX_INTERVAL_SECONDS', 'must not be less than POLL_MIN_INTERVAL_SECONDS');
  }
  const keyVaultUrl = url(env, 'KEY_VAULT_URL');
  checkSigningSecrets(env, keyVaultUrl);
  return {
    storage: storageConfig(env),
    tableNamePrefix,
    partnerCenter: {
      apiUrl: url(env, 'PARTNER_CENTER_API_URL', 'https://api.partnercenter.microsoft.com')!,
      authorityHost: url(env, 'PARTNER_CENTER_AUTHORITY_HOST', 'https://login.microsoftonline.com')!,
      tenantId,
      clientId,
      applicationName: read(env, 'PARTNER_CENTER_APPLICATION_NAME') ?? 'azure-plan-upgrades',
      attemptTimeoutMs: number(env, 'PARTNER_CENTER_TIMEOUT_SECONDS', 30, 1, 120) * 1000,
      maxAttempts: number(env, 'PARTNER_CENTER_MAX_ATTEMPTS', 4, 1, 10),
    },
    secrets: {
      keyVaultUrl,
      cacheTtlMs: number(env, 'SECRET_CACHE_TTL_SECONDS', 300, 0, 86_400) * 1000,
      refreshTokenWriteIntervalMs: number(env, 'REFRESH_TOKEN_WRITE_INTERVAL_MINUTES', 60, 0, 43_200) * 60_000,
    },
    poll: {
      schedule: ncrontab(env, 'POLL_SCHEDULE'),
      concurrency: number(env, 'POLL_CONCURRENCY', 8, 1, 64),
      ratePerSecond: number(env, 'POLL_RATE_PER_SECOND', 10, 0.1, 1000),
      timeBudgetMs: number(env, 'POLL_TIME_BUDGET_SECONDS', 240, 5, 1500) * 1000,
      firstDelayMs: number(env, 'POLL_FIRST_DELAY_SECONDS', 30, 0, 3600) * 1000,
      minIntervalMs,
      maxIntervalMs,
      maxAgeMs: number(env, 'POLL_MAX_AGE_DAYS', 30, 1, 365) * 86_400_000,
    },
    fleet: {
      scanSchedule: ncrontab(env, 'FLEET_SCAN_SCHEDULE', '0 0 2 * * *'),
      waveCreatesPerMinute: number(
        env,
        'WAVE_CREATES_PER_MINUTE',
        WAVE_PACE_LIMITS.default,
        WAVE_PACE_LIMITS.min,
        WAVE_PACE_LIMITS.max,
      ),
    },
    webhookSignatures: webhookSignatures(env),
    billingCallbackUrl: url(env, 'BILLING_CALLBACK_URL'),
    callbacks: {
      timeoutMs: number(env, 'CALLBACK_TIMEOUT_SECONDS', 10, 1, 120) * 1000,
      maxAttempts: number(env, 'CALLBACK_MAX_ATTEMPTS', 8, 1, 20),
      retryBaseMs: number(env, 'CALLBACK_RETRY_BASE_SECONDS', 30, 0, 3600) * 1000,
    },
    appInsightsConnectionString: read(env, 'APPLICATIONINSIGHTS_CONNECTION_STRING'),
    appInsightsAuthenticationString: read(env, 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'),
  };
}
