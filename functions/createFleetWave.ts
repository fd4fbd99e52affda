import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { createWaveRequest } from '../shared/api/waves';
import { getServices } from '../shared/services';

/** An operator creates a fleet wave (or asks who it would move: `dryRun`); the timer run starts its customers. */
export function createFleetWave(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return createWaveRequest(getServices(), request, context);
}

app.http('createFleetWave', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'fleet/waves',
  handler: createFleetWave,
});
