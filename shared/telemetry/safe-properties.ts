/**
 * Property keys that name credentials. Callers must never put a secret into telemetry; this is the second line of
 * defence: both telemetry implementations drop any property whose key matches, whatever its value.
 */
export const SECRET_PROPERTY_KEY = /secret|token|password|authorization|signature/i;

/**
 * A copy of `properties` without the keys that look like they hold a credential. Built with `Object.fromEntries`,
 * which defines own properties: an assignment would turn a `__proto__` key into a prototype change and lose it.
 */
export function withoutSecretProperties(properties: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(properties ?? {}).filter(([key]) => !SECRET_PROPERTY_KEY.test(key)));
}
