/** The host names that mean this machine (as `URL.hostname` writes them). */
const LOOPBACK_HOSTNAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

export function isLoopbackHostname(hostname: string): boolean {
  return LOOPBACK_HOSTNAMES.has(hostname);
}

/**
 * The rule for every URL the app is configured to call (Partner Center, Entra ID, Key Vault, storage, the billing
 * system): absolute and https; plain http only to this machine (Azurite, the simulator, a local receiver). Returns
 * what is wrong, as the end of a sentence that names the URL, or undefined when nothing is.
 */
export function httpsOrLoopbackProblem(value: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol === 'http:' && isLoopbackHostname(parsed.hostname)) return undefined;
  return 'must use https (plain http is accepted only for localhost)';
}
