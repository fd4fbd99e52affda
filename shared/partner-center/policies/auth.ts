import type { TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

export const partnerCenterAuthPolicyName = 'partnerCenterAuthPolicy';

export const PARTNER_CENTER_SCOPE = 'https://api.partnercenter.microsoft.com/.default';

/** A credential that can be told a token it issued was refused (SecureAppModelCredential is one). */
export interface InvalidatableCredential extends TokenCredential {
  invalidateAccessToken(token: string): void;
}

function canInvalidate(credential: TokenCredential): credential is InvalidatableCredential {
  return typeof (credential as Partial<InvalidatableCredential>).invalidateAccessToken === 'function';
}

/**
 * Sets `Authorization: Bearer <token>` from the credential on every attempt (the credential caches, so this is cheap,
 * and a token that expired during backoff is replaced). A 401 with a token the credential can invalidate gets one
 * more try with a fresh token: the cached token may have been revoked or expired early on the server side.
 * Core's bearerTokenAuthenticationPolicy is not used because it refuses http URLs, and the simulator is plain-http
 * loopback; caching and single-flight refresh live in the credential instead.
 */
export function partnerCenterAuthPolicy(credential: TokenCredential, scope = PARTNER_CENTER_SCOPE): PipelinePolicy {
  const tokenFor = async (signal: Parameters<TokenCredential['getToken']>[1]): Promise<string> => {
    const token = await credential.getToken(scope, signal);
    if (!token) throw new Error('The Partner Center credential returned no access token');
    return token.token;
  };
  return {
    name: partnerCenterAuthPolicyName,
    async sendRequest(request, next) {
      const first = await tokenFor({ abortSignal: request.abortSignal });
      request.headers.set('Authorization', `Bearer ${first}`);
      const response = await next(request);
      if (response.status !== 401 || !canInvalidate(credential)) return response;
      credential.invalidateAccessToken(first);
      const second = await tokenFor({ abortSignal: request.abortSignal });
      if (second === first) return response;
      request.headers.set('Authorization', `Bearer ${second}`);
      return next(request);
    },
  };
}
