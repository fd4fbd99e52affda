import type { AppConfig } from '../config';
import type { SecretStore } from '../secrets/types';
import type { Telemetry } from '../telemetry/telemetry';
import { PartnerCenterClient } from './client';
import type { RefreshTokenOwner } from './consent';
import { SecureAppModelCredential } from './credential';
import type { PartnerCenterLogger } from './logger';

export { PartnerCenterClient, DEFAULT_RETRY_DELAY, type PartnerCenterClientOptions } from './client';
export { SecureAppModelCredential, type SecureAppModelCredentialOptions } from './credential';
export {
  RefreshTokenOwner,
  createRefreshTokenOwner,
  decideOnVault,
  decideWriteBack,
  heldFrom,
  type HeldToken,
  type RefreshTokenOwnerOptions,
  type VaultDecision,
  type WriteBackDecision,
} from './consent';
export {
  GENERATION_TAG,
  compareGenerations,
  formatGeneration,
  generationOf,
  generationTags,
  nextGeneration,
  parseGeneration,
  type ConsentGeneration,
} from './consent-generation';
export {
  PartnerCenterCredentialError,
  RefreshTokenInvalidError,
  ClientCredentialInvalidError,
  MissingSecretError,
  TokenEndpointError,
  CONSENT_INSTRUCTION,
} from './credential-errors';
export {
  PartnerCenterError,
  PartnerCenterTimeoutError,
  PartnerCenterNetworkError,
  ERROR_CODE_CATEGORIES,
  categorize,
  errorCategory,
  isRetryableError,
  type PartnerCenterErrorCategory,
} from './errors';
export { PARTNER_CENTER_SCOPE } from './policies/auth';
export type { PartnerCenterLogger, LogLevel } from './logger';
export { normalizeStatus, isTerminalStatus } from './wire';
export {
  END_OF_RECORDS_CODE,
  MAX_PAGE_SIZE,
  isAzurePlanSubscription,
  isCustomerAgreement,
  isLegacyAzureSubscription,
  normalizeSubscriptionStatus,
} from './fleet-wire';
export { LinkError, parsePageCursor, resolveLink } from './links';
export * from './types';

export interface PartnerCenterDeps {
  telemetry?: Telemetry;
  logger?: PartnerCenterLogger;
  /** The process's one owner of the refresh token (`createRefreshTokenOwner`); default: one of the credential's own. */
  consent?: RefreshTokenOwner;
}

/** The production client from the validated config: secure-app-model credential + pipeline, secrets from the store. */
export function createPartnerCenterClient(
  config: AppConfig,
  secretStore: SecretStore,
  deps: PartnerCenterDeps = {},
): PartnerCenterClient {
  const pc = config.partnerCenter;
  const credential = new SecureAppModelCredential({
    tenantId: pc.tenantId,
    clientId: pc.clientId,
    authorityHost: pc.authorityHost,
    secretStore,
    consent: deps.consent,
    telemetry: deps.telemetry,
    logger: deps.logger,
  });
  return new PartnerCenterClient({
    baseUrl: pc.apiUrl,
    credential,
    applicationName: pc.applicationName,
    attemptTimeoutMs: pc.attemptTimeoutMs,
    maxAttempts: pc.maxAttempts,
    telemetry: deps.telemetry,
    logger: deps.logger,
  });
}
