/**
 * The logging hook of the Partner Center client and credential. The host wires it to the Functions context or the
 * console; properties hold ids, statuses and codes only — never a token, secret or request body.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type PartnerCenterLogger = (level: LogLevel, message: string, properties?: Record<string, unknown>) => void;

export const silentLogger: PartnerCenterLogger = () => undefined;
