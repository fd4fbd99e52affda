import { parseArgs } from 'node:util';
import { defaultScenario, generateFleetScenario, generateScenario } from './generator';
import { startSimulator } from './index';
import { loadScenario, type Scenario } from './scenario';

const USAGE = `Partner Center simulator (local, not a real service)

  npm run simulator -- [--port 8090] [--host 127.0.0.1] [--scenario file.json | --generate 10000 [--seed 1] [--fleet]]
                       [--speed 60] [--rate-limit N] [--customer-rate-limit N] [--client-secret S] [--refresh-token T]
                       [--state-file F] [--quiet]

  --generate N           a generated scenario of N customers (deterministic by --seed)
  --fleet                with --generate: a whole customer base (on an Azure plan, legacy, no Azure, advisors,
                         no customer agreement, upgrades running, resellers of record) instead of legacy customers only
  --speed N              simulated time runs N times faster than real time (default: the scenario's, else 1)
  --rate-limit N         N requests/s per partner tenant (burst N); --customer-rate-limit per partner + customer
  --client-secret, --refresh-token
                         the values to accept (or PARTNER_CENTER_CLIENT_SECRET / PARTNER_CENTER_REFRESH_TOKEN);
                         generated and printed once when absent
  --state-file F         keep upgrades and refresh tokens (hashed) in F across restarts`;

function positive(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8090' },
      host: { type: 'string', default: '127.0.0.1' },
      scenario: { type: 'string' },
      generate: { type: 'string' },
      seed: { type: 'string' },
      fleet: { type: 'boolean', default: false },
      speed: { type: 'string' },
      'rate-limit': { type: 'string' },
      'customer-rate-limit': { type: 'string' },
      'client-secret': { type: 'string' },
      'refresh-token': { type: 'string' },
      'state-file': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.scenario && values.generate) throw new Error('give --scenario or --generate, not both');
  if (values.fleet && !values.generate) throw new Error('--fleet goes with --generate N');
  const generate = positive('generate', values.generate);
  const generator = values.fleet ? generateFleetScenario : generateScenario;
  const scenario: Scenario = values.scenario
    ? loadScenario(values.scenario)
    : generate
      ? generator({ customers: Math.floor(generate), seed: Number(values.seed ?? 1) })
      : defaultScenario();
  const speed = positive('speed', values.speed) ?? scenario.speed ?? 1;
  const partnerRate = positive('rate-limit', values['rate-limit']);
  const customerRate = positive('customer-rate-limit', values['customer-rate-limit']);
  const rateLimits =
    partnerRate || customerRate
      ? {
          ...scenario.rateLimits,
          ...(partnerRate ? { perPartner: { ratePerSecond: partnerRate, burst: Math.max(1, partnerRate) } } : {}),
          ...(customerRate ? { perCustomer: { ratePerSecond: customerRate, burst: Math.max(1, customerRate) } } : {}),
        }
      : undefined;
  const givenSecret = values['client-secret'] ?? process.env.PARTNER_CENTER_CLIENT_SECRET;
  const givenRefresh = values['refresh-token'] ?? process.env.PARTNER_CENTER_REFRESH_TOKEN;
  const sim = await startSimulator({
    port: Number(values.port),
    host: values.host,
    scenario: { ...scenario, speed },
    rateLimits,
    credentials: { clientSecret: givenSecret, refreshToken: givenRefresh },
    quiet: values.quiet,
    stateFile: values['state-file'],
  });
  const c = sim.credentials;
  const lines = [
    `Partner Center simulator listening on ${sim.url}  (scenario "${scenario.name ?? 'unnamed'}", ${sim.state.customerCount} customers, speed ${speed}x)`,
    `  token endpoint   POST ${sim.url}/${c.tenantId}/oauth2/v2.0/token`,
    `  admin API        ${sim.url}/_sim  (see dev/simulator/README.md)`,
    '',
    'Point the app at it:',
    `  PARTNER_CENTER_API_URL=${sim.url}`,
    `  PARTNER_CENTER_AUTHORITY_HOST=${sim.url}`,
    `  PARTNER_CENTER_TENANT_ID=${c.tenantId}`,
    `  PARTNER_CENTER_CLIENT_ID=${c.clientId}`,
  ];
  // Local simulator values, not real secrets: printed once so a user can copy them; given ones are never echoed.
  lines.push(
    givenSecret
      ? '  PARTNER_CENTER_CLIENT_SECRET=(the value you gave)'
      : `  PARTNER_CENTER_CLIENT_SECRET=${c.clientSecret}   (generated for this run)`,
    givenRefresh
      ? '  PARTNER_CENTER_REFRESH_TOKEN=(the value you gave)'
      : `  PARTNER_CENTER_REFRESH_TOKEN=${c.refreshToken}   (generated for this run)`,
  );
  if (rateLimits) lines.push('', `Rate limits: ${JSON.stringify(sim.state.rateLimits())}`);
  console.log(lines.join('\n'));
  const stop = (): void => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(`simulator: ${(error as Error).message}`);
  process.exit(1);
});
