import { readFileSync } from 'node:fs';
import path from 'node:path';

const host = JSON.parse(readFileSync(path.join(__dirname, '../../host.json'), 'utf8'));

describe('host.json', () => {
  it('targets the v2 host with the v4 extension bundle', () => {
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
  });

  it('bounds every invocation well inside Flex Consumption limits', () => {
    expect(host.functionTimeout).toBe('00:10:00');
  });

  it('retries queue messages five times, spaced, base64-encoded', () => {
    expect(host.extensions.queues).toMatchObject({
      batchSize: 16,
      maxDequeueCount: 5,
      visibilityTimeout: '00:00:30',
      messageEncoding: 'base64',
    });
  });

  it('samples Application Insights telemetry but keeps every request', () => {
    const sampling = host.logging.applicationInsights.samplingSettings;
    expect(sampling.isEnabled).toBe(true);
    expect(sampling.excludedTypes.split(';')).toContain('Request');
  });
});
