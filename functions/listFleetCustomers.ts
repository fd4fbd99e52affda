import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { readFleetCustomers } from '../shared/api/fleet';
import { getServices } from '../shared/services';

/**
 * The fleet's customers: a page of JSON, or with `Accept: text/csv` the whole listing, its body a stream the handler
 * fills page by page as it is read. The app keeps `enableHttpStream: false` (functions/index.ts), so in Azure the
 * worker reads that stream to its end before handing the answer to the host (about 300 bytes per customer); the
 * local host sends it as it is read.
 */
export function listFleetCustomers(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return readFleetCustomers(getServices(), request, context);
}

app.http('listFleetCustomers', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'fleet/customers',
  handler: listFleetCustomers,
});
