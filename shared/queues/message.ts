import { isGuid } from '../ids';
import { isJsonObject } from '../json';

/**
 * Reading queue messages the way every queue function needs: the Functions host hands a JSON message over already
 * parsed, but a message can also arrive as JSON text or a Buffer of it; anything else is a permanent error that is
 * recorded and completed, never retried.
 */
export type DecodedMessage = { ok: true; fields: Record<string, unknown> } | { ok: false; reason: string };

/** The message as a JSON object, or why it is not one. */
export function decodeJsonObjectMessage(input: unknown): DecodedMessage {
  let value = input;
  if (Buffer.isBuffer(value)) value = value.toString('utf8');
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return { ok: false, reason: 'message is not valid JSON' };
    }
  }
  if (!isJsonObject(value)) return { ok: false, reason: 'message must be a JSON object' };
  return { ok: true, fields: value };
}

/** The reason the first of these fields is missing or not a GUID; undefined when all are GUIDs. */
export function guidFieldsProblem(fields: Record<string, unknown>, names: readonly string[]): string | undefined {
  for (const name of names) {
    const field = fields[name];
    if (field === undefined || field === null || field === '') return `${name} is missing`;
    if (!isGuid(field)) return `${name} must be a GUID`;
  }
  return undefined;
}

/** The message as text, for the RejectedMessages row. */
export function messageText(input: unknown): string {
  if (typeof input === 'string') return input;
  if (Buffer.isBuffer(input)) return input.toString('utf8');
  try {
    return JSON.stringify(input) ?? String(input);
  } catch {
    return String(input);
  }
}
