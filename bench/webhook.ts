import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { RunningAzurite } from '../dev/azurite';
import { generateScenario } from '../dev/simulator';
import { newWebhookId, stackServices, startStack } from '../dev/stack';
import { loadAverage } from './machine';
import { percentile, Repeats, type Figure } from './stats';

export interface WebhookCase {
  repeats: number;
  /**
   * Sequential calls per series (bare client, bare table write, webhook, the same webhook repeated, interleaved).
   */
  sequential: number;
  /** Load phase: connections in flight, and its bounds. */
  connections: number;
  loadSeconds: number;
  loadMaxRequests: number;
}

export interface WebhookResult {
  case: WebhookCase;
  figures: Record<string, Figure>;
  lastRun: { loadStatusCounts: Record<string, number> };
}

const HOST = path.join(__dirname, 'webhook-host.js');

function startHost(settings: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = fork(HOST, [], { env: { ...process.env, ...settings }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('message', (m) => resolve({ url: (m as { url: string }).url, child }));
    child.once('exit', (code) => reject(new Error(`host exited ${code}: ${stderr.slice(-1500)}`)));
  });
}

function stopHost(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill(), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.send('stop');
  });
}

async function timed(call: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await call();
  return performance.now() - started;
}

/**
 * Webhook overhead: the eligibility webhook through the local host, signed as a billing system signs it (a new
 * webhook-id per request: the Standard Webhooks signature check, the id reserved while Partner Center is asked,
 * validation, the EligibilityChecks row, the answer stored for replay) against the bare client call to the simulator,
 * and — to say where the difference goes — the bare table write the webhook also makes. The same request repeated
 * (its webhook-id again) is measured too: the answer from storage. Then requests per second with `connections`
 * requests in flight (node's fetch, loopback only), bounded by time and count.
 */
export async function benchWebhook(
  azurite: RunningAzurite,
  spec: WebhookCase,
  log: (line: string) => void,
): Promise<WebhookResult> {
  // The stack's settings keep the timer quiet during the benchmark; the host runs in a process of its own.
  const stack = await startStack({
    storage: azurite.connectionString,
    simulator: { scenario: generateScenario({ customers: 200, seed: 3, mix: { eligible: 1 } }) },
    tablePrefix: 'bwebhook',
  });
  const { sim, settings } = stack;
  const host = await startHost(settings).catch(async (error: unknown) => {
    await stack.stop();
    throw error;
  });
  try {
    // Telemetry off in this process: the bare client call is measured without recording it.
    const services = stackServices(settings);
    const customers = sim.scenario.customers.map((c) => c.id);
    let next = 0;
    const body = () => JSON.stringify({ customerId: customers[next++ % customers.length], productFamily: 'Azure' });
    const url = `${host.url}/api/eligibility`;
    let last = { raw: '', webhookId: '' };
    /** A new request, or (`repeat`) the last one again: the same body and webhook-id, signed afresh. */
    const webhook = async (repeat = false): Promise<number> => {
      if (!repeat) last = { raw: body(), webhookId: newWebhookId() };
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        ...stack.signedHeaders(last.raw, { webhookId: last.webhookId }),
      };
      const response = await fetch(url, { method: 'POST', headers, body: last.raw });
      await response.arrayBuffer();
      if (repeat && response.headers.get('idempotent-replayed') !== 'true')
        throw new Error('the repeat was not replayed');
      return response.status;
    };
    const bareClient = () =>
      services.partnerCenter.checkEligibility({
        customerId: customers[next++ % customers.length],
        productFamily: 'Azure',
      });
    const bareTableWrite = () =>
      services.tracking.recordEligibilityCheck({
        customerId: customers[next++ % customers.length],
        productFamily: 'Azure',
        isEligible: true,
        checkedAt: new Date().toISOString(),
      });
    for (let i = 0; i < 20; i++) {
      for (const status of [await webhook(), await webhook(true)]) {
        if (status !== 200) throw new Error(`eligibility webhook answered ${status} during warm-up`);
      }
      await bareClient();
      await bareTableWrite();
    }
    const repeats = new Repeats();
    let loadStatusCounts: Record<string, number> = {};
    for (let run = 0; run < spec.repeats; run++) {
      const client: number[] = [];
      const table: number[] = [];
      const hook: number[] = [];
      const hookRepeated: number[] = [];
      for (let i = 0; i < spec.sequential; i++) {
        client.push(await timed(bareClient));
        table.push(await timed(bareTableWrite));
        hook.push(await timed(() => webhook()));
        hookRepeated.push(await timed(() => webhook(true)));
      }
      const counts: Record<string, number> = {};
      const latencies: number[] = [];
      let sent = 0;
      const deadline = performance.now() + spec.loadSeconds * 1000;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: spec.connections }, async () => {
          while (performance.now() < deadline && sent < spec.loadMaxRequests) {
            sent++;
            const t0 = performance.now();
            let key: string;
            try {
              key = String(await webhook());
            } catch {
              key = 'network-error';
            }
            latencies.push(performance.now() - t0);
            counts[key] = (counts[key] ?? 0) + 1;
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      loadStatusCounts = counts;
      const sample = {
        bareClientP50Ms: percentile(client, 50),
        bareClientP99Ms: percentile(client, 99),
        bareTableWriteP50Ms: percentile(table, 50),
        bareTableWriteP99Ms: percentile(table, 99),
        webhookP50Ms: percentile(hook, 50),
        webhookP99Ms: percentile(hook, 99),
        overheadP50Ms: percentile(hook, 50) - percentile(client, 50),
        overheadP99Ms: percentile(hook, 99) - percentile(client, 99),
        overheadBeyondTableWriteP50Ms: percentile(hook, 50) - percentile(client, 50) - percentile(table, 50),
        repeatedP50Ms: percentile(hookRepeated, 50),
        repeatedP99Ms: percentile(hookRepeated, 99),
        requestsPerSecond: (counts['200'] ?? 0) / elapsed,
        loadP50Ms: percentile(latencies, 50),
        loadP99Ms: percentile(latencies, 99),
        loadNon200: latencies.length - (counts['200'] ?? 0),
      };
      repeats.add(sample);
      log(
        `  webhook run ${run + 1}/${spec.repeats}: p50 ${sample.webhookP50Ms.toFixed(1)} ms vs bare ${sample.bareClientP50Ms.toFixed(1)} ms, ` +
          `p99 ${sample.webhookP99Ms.toFixed(1)} vs ${sample.bareClientP99Ms.toFixed(1)} ms ` +
          `(overhead p50 ${sample.overheadP50Ms.toFixed(1)}, p99 ${sample.overheadP99Ms.toFixed(1)} ms; ` +
          `a repeat answered from storage p50 ${sample.repeatedP50Ms.toFixed(1)}, p99 ${sample.repeatedP99Ms.toFixed(1)} ms), ` +
          `${sample.requestsPerSecond.toFixed(0)} req/s, load average ${loadAverage().join(' / ')}`,
      );
    }
    return { case: spec, figures: repeats.figures(), lastRun: { loadStatusCounts } };
  } finally {
    await stopHost(host.child);
    await stack.stop();
  }
}
