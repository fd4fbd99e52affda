/** A thrown value as an Error (what telemetry's exception and a rejection want): itself, or its text in one. */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
