/** Turns queue message text into the trigger value the Node worker would pass, like the Functions host does. */

export class MessageBindingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MessageBindingError';
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** base64 → UTF-8 text; text that is not base64 fails binding on every try, as in the host (Convert.FromBase64String). */
export function decodeMessageText(text: string, encoding: 'base64' | 'none'): string {
  if (encoding === 'none') return text;
  const compact = text.replace(/[\s]/g, ''); // .NET ignores whitespace inside base64
  if (!BASE64.test(compact)) {
    throw new MessageBindingError('The message text is not valid base64 (host.json messageEncoding is base64)');
  }
  return Buffer.from(compact, 'base64').toString('utf8');
}

/** JSON text becomes its value (`{"a":1}` → object, `42` → 42); anything else stays the string. */
export function parseTriggerValue(decoded: string): unknown {
  try {
    return JSON.parse(decoded) as unknown;
  } catch {
    return decoded;
  }
}
