import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { startFleetScan } from '../shared/api/fleet';
import { getServices } from '../shared/services';

/** Asks for a fleet scan: recorded only; the next pollUpgrades run starts it, within the background budget. */
export function requestFleetScan(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return startFleetScan(getServices(), request, context);
}

app.http('requestFleetScan', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'fleet/scans',
  handler: requestFleetScan,
});
