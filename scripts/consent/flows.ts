import { setTimeout as delay } from 'node:timers/promises';
import { listenForRedirect } from './loopback';
import { createPkce, randomState } from './pkce';
import { authorizeUrl, OAuthError, type TokenEndpoint, type TokenResponse } from './token-endpoint';

/** Where the flows talk to the person running the consent (stdout in the CLI). Never given a token. */
export type Say = (line: string) => void;

export interface AuthorizationCodeFlowOptions {
  clientSecret?: string;
  port?: number;
  timeoutMs?: number;
  say: Say;
  /** Called with the sign-in URL once the listener is ready: opens a browser (`--open`), or a test's fake browser. */
  openUrl?: (url: string) => void | Promise<void>;
}

/**
 * Authorization code with PKCE and a loopback redirect, the way Partner Center's own tools do the one-time consent:
 * the admin signs in (with MFA) in a browser, Entra ID redirects to our local listener with a code, we redeem it.
 */
export async function authorizationCodeFlow(
  endpoint: TokenEndpoint,
  options: AuthorizationCodeFlowOptions,
): Promise<TokenResponse> {
  const pkce = createPkce();
  const state = randomState();
  const listener = await listenForRedirect({ state, port: options.port, timeoutMs: options.timeoutMs });
  try {
    const url = authorizeUrl(endpoint.authority, {
      redirectUri: listener.redirectUri,
      state,
      codeChallenge: pkce.challenge,
    });
    options.say('Sign in as a partner admin (with MFA) and consent, in a browser on this machine:');
    options.say(`  ${url}`);
    options.say(`Waiting for the redirect to ${listener.redirectUri} ...`);
    await options.openUrl?.(url);
    const code = await listener.code;
    return await endpoint.redeemCode({
      code,
      redirectUri: listener.redirectUri,
      codeVerifier: pkce.verifier,
      clientSecret: options.clientSecret,
    });
  } finally {
    await listener.close();
  }
}

export interface DeviceCodeFlowOptions {
  say: Say;
  /** Waits between polls; tests may shorten it. */
  sleep?: (ms: number) => Promise<void>;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
}

/**
 * Device code (RFC 8628), for machines without a browser: the admin enters a code on another device. Entra ID allows
 * it only when the app registration allows public client flows. Polls at the interval Entra ID asks for, slows
 * down when told to, and stops when the code expires or the sign-in is declined.
 */
export async function deviceCodeFlow(endpoint: TokenEndpoint, options: DeviceCodeFlowOptions): Promise<TokenResponse> {
  const sleep = options.sleep ?? delay;
  const now = options.now ?? Date.now;
  const start = await endpoint.startDeviceCode();
  options.say(start.message);
  options.say('Sign in as a partner admin (with MFA). Waiting ...');
  const deadline = now() + start.expiresInSeconds * 1000;
  let intervalMs = start.intervalSeconds * 1000;
  for (;;) {
    await sleep(intervalMs);
    try {
      return await endpoint.redeemDeviceCode(start.deviceCode);
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      if (error.error === 'slow_down') intervalMs += 5000;
      else if (error.error !== 'authorization_pending') throw error;
      if (now() + intervalMs >= deadline) {
        throw new OAuthError('expired_token', 'the device code expired before the sign-in completed', 400);
      }
    }
  }
}
