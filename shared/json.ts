/** A parsed JSON object (not an array, not null), its properties not yet trusted. */
export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object without its undefined properties (JSON bodies, telemetry properties and table entities omit them). */
export function dropUndefined<T>(value: Record<string, T | undefined>): Record<string, T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Record<string, T>;
}
