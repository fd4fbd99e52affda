import path from 'node:path';
import { localWebhookSecret, newWebhookId, signedHeaders } from '../dev/signing';
import { webhookIdProblem } from '../shared/webhooks/signing';

/**
 * `npm run -s sign -- [--id <webhook-id>] '<json body>'`: signs a webhook body for the app `npm start` runs, with
 * the secret it gave the app, as the billing system signs (Standard Webhooks, through the same library), and prints
 * it as a curl config: the content type, the three signature headers and the body. Pipe it into `curl -K -`:
 *
 *   npm run -s sign -- '{"customerId":"…"}' | curl -K - localhost:7071/api/eligibility
 *
 * A new webhook-id each time unless `--id` names one (a retry of the same request uses the same id). The signature
 * is good for five minutes.
 */

const USAGE = "usage: npm run -s sign -- [--id <webhook-id>] '<json body>'";

/** A value in a curl config file: double-quoted, with the escapes curl reads there. */
function quoted(value: string): string {
  const escaped = value
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t');
  return `"${escaped}"`;
}

/** The curl config (`curl -K -`) that POSTs `body` with these headers. */
export function curlConfig(body: string, headers: Record<string, string>): string {
  const lines = [
    `header = ${quoted('content-type: application/json')}`,
    ...Object.entries(headers).map(([name, value]) => `header = ${quoted(`${name}: ${value}`)}`),
    `data-raw = ${quoted(body)}`,
  ];
  return `${lines.join('\n')}\n`;
}

export function parseSignArgs(argv: readonly string[]): { webhookId: string; body: string } {
  let webhookId: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--id') webhookId = argv[++i];
    else if (argv[i].startsWith('--id=')) webhookId = argv[i].slice('--id='.length);
    else rest.push(argv[i]);
  }
  if (rest.length !== 1) throw new Error(USAGE);
  const id = webhookId ?? newWebhookId();
  const problem = webhookIdProblem(id);
  if (problem) throw new Error(`--id: ${problem.field} ${problem.message}`);
  return { webhookId: id, body: rest[0] };
}

async function main(): Promise<number> {
  const root = path.resolve(__dirname, '../..');
  const { webhookId, body } = parseSignArgs(process.argv.slice(2));
  const secret = await localWebhookSecret(root);
  if (!secret) {
    throw new Error(
      'No webhook signing secret yet: `npm start` makes one on its first start (or set WEBHOOK_SIGNING_SECRET).',
    );
  }
  process.stdout.write(curlConfig(body, signedHeaders(body, secret, { webhookId })));
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
