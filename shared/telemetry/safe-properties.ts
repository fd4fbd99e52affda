/**
 * Property keys that name credentials. Callers must never put a secret into telemetry; this is the second line of
 * defence: both telemetry implementations drop any property whose key matches, whatever its value.
 */
export const SECRET_PROPERTY_KEY = /secret|token|password|authorization|signature/i;

/** A copy of `properties` without the keys that look like they hold a credential. */
export function withoutSecretProperties(properties: Record<string, string> | undefined): Record<string, string> {
  const safe: Record<string, string> = {};
  for (const [key, value] of Object.entries(properties ?? {})) {
    if (!SECRET_PROPERTY_KEY.test(key)) safe[key] = value;
  }
  return safe;
}
