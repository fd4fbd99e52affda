import { parseArgs } from 'node:util';

export interface ConsentArgs {
  deviceCode: boolean;
  open: boolean;
  printToken: boolean;
  allowWithoutMfa: boolean;
  port: number;
  timeoutSeconds: number;
  azdEnvironment: string | undefined;
  help: boolean;
}

export const USAGE = `Usage: npm run consent -- [options]

The one-time App+User consent (with MFA) of Partner Center's secure application model. Stores the refresh token
in Key Vault (KEY_VAULT_URL) as a new consent generation, which the app switches to and never writes an older
token over; or says what to do when no vault is configured. A sign-in without MFA is refused.

Settings (first found wins: environment, the azd environment, local.settings.json):
  PARTNER_CENTER_TENANT_ID, PARTNER_CENTER_CLIENT_ID   the partner tenant and the app registration (required)
  PARTNER_CENTER_AUTHORITY_HOST                        default https://login.microsoftonline.com
  KEY_VAULT_URL                                        where to store the token (azd up sets it)
  PARTNER_CENTER_CLIENT_SECRET                         read from Key Vault when KEY_VAULT_URL is set

Options:
  --device-code      device-code flow instead of a browser redirect (needs "Allow public client flows")
  --open             open the sign-in page in the default browser
  --port <n>         port of the local redirect listener (default: a free port)
  --timeout <s>      how long to wait for the sign-in (default 300)
  --azd-env <name>   read settings from this azd environment (default: azd's default environment)
  --print-token      print the refresh token (a secret: only for local development without Key Vault)
  --allow-without-mfa
                     keep a token whose sign-in shows no MFA (refused otherwise: Partner Center refuses App+User
                     calls without MFA)
  --help             this text
`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function wholeNumber(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

export function parseConsentArgs(argv: string[]): ConsentArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'device-code': { type: 'boolean', default: false },
        open: { type: 'boolean', default: false },
        'print-token': { type: 'boolean', default: false },
        'allow-without-mfa': { type: 'boolean', default: false },
        port: { type: 'string' },
        timeout: { type: 'string' },
        'azd-env': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const v = parsed.values;
  return {
    deviceCode: v['device-code'] ?? false,
    open: v.open ?? false,
    printToken: v['print-token'] ?? false,
    allowWithoutMfa: v['allow-without-mfa'] ?? false,
    port: wholeNumber('port', v.port, 0, 0, 65_535),
    timeoutSeconds: wholeNumber('timeout', v.timeout, 300, 1, 3600),
    azdEnvironment: v['azd-env'],
    help: v.help ?? false,
  };
}
