import { guidFromHex, newGuid } from '../ids';

/**
 * MS-CorrelationId for the Partner Center calls of one invocation: the W3C trace id of the inbound operation
 * (what Application Insights shows as the operation id), written as a GUID, so a support case can be followed from
 * the portal to Partner Center and back. A new GUID when the host gave no trace context.
 */
export function correlationIdFrom(traceParent: string | null | undefined): string {
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/i.exec(traceParent?.trim() ?? '');
  const traceId = match?.[1];
  if (!traceId || /^0+$/.test(traceId)) return newGuid();
  return guidFromHex(traceId.toLowerCase());
}
