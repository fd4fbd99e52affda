import { GUID_PATTERN, guidFromHex, isHex32, newGuid } from '../ids';

/**
 * Partner Center expects a GUID in MS-CorrelationId. Callers pass what they have: a GUID is kept, a 32-hex trace id
 * (W3C / Application Insights operation id) is dashed into one, anything else is replaced by a new GUID so the call is
 * not refused over a tracing header.
 */
export function toCorrelationId(value: string | undefined): string {
  const trimmed = value?.trim();
  if (trimmed && GUID_PATTERN.test(trimmed)) return trimmed;
  if (trimmed && isHex32(trimmed)) return guidFromHex(trimmed);
  return newGuid();
}

/**
 * The upgrade id of a create response: the last GUID-shaped path segment of Location. The service sends a relative
 * `productUpgrades/{id}`; an absolute URL, a leading slash, a `/v1` prefix or a trailing `/status` work as well.
 */
export function upgradeIdFromLocation(location: string | undefined): string | undefined {
  if (!location) return undefined;
  let path: string;
  try {
    path = new URL(location.trim(), 'http://relative.invalid/').pathname;
  } catch {
    return undefined;
  }
  const segments = path
    .split('/')
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .filter((segment) => GUID_PATTERN.test(segment));
  return segments.at(-1)?.toLowerCase();
}
