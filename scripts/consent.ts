/**
 * `npm run consent`: the one-time App+User consent of Partner Center's secure application model. A partner admin
 * signs in with MFA (browser with a localhost redirect, or `--device-code`); the refresh token goes to Key Vault
 * when KEY_VAULT_URL is set (as after `azd up`), where the app reads and rotates it.
 */
import { spawn } from 'node:child_process';
import { ConfigError } from '../shared/config';
import { SecretAccessError } from '../shared/secrets/errors';
import { KeyVaultSecretStore } from '../shared/secrets/key-vault-store';
import { keyVaultSecretName, type SecretStore } from '../shared/secrets/types';
import { parseConsentArgs, USAGE, UsageError } from './consent/args';
import { ConsentError, runConsent } from './consent/consent';
import { readConsentSettings, settingsSources } from './consent/settings';

const say = (line: string): void => console.log(line);

/** Opens the sign-in page in the default browser; failures only cost the convenience (the URL is printed). */
function openInBrowser(url: string): void {
  const [command, args] =
    process.platform === 'win32'
      ? ['cmd', ['/c', 'start', '""', url.replace(/&/g, '^&')]]
      : [process.platform === 'darwin' ? 'open' : 'xdg-open', [url]];
  try {
    const child = spawn(command, args, { stdio: 'ignore', detached: true });
    child.on('error', () => say('(could not open a browser: open the URL above yourself)'));
    child.unref();
  } catch {
    say('(could not open a browser: open the URL above yourself)');
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parseConsentArgs(argv);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const settings = readConsentSettings(
    settingsSources({ cwd: process.cwd(), env: process.env, azdEnvironment: args.azdEnvironment }),
  );
  for (const [name, source] of Object.entries(settings.sources)) say(`${name}: from ${source}`);

  let store: SecretStore | undefined;
  let clientSecret = settings.clientSecretFromEnv;
  if (settings.keyVaultUrl) {
    // The operator's own sign-in (az login / azd auth login) through DefaultAzureCredential; azd up grants the
    // deploying user Key Vault Secrets Officer on the client secret and the refresh token (each secret, not the vault).
    store = new KeyVaultSecretStore(settings.keyVaultUrl);
    clientSecret = (await store.get('PARTNER_CENTER_CLIENT_SECRET')) ?? clientSecret;
  }
  if (!clientSecret && !args.deviceCode) {
    say(
      'Note: no PARTNER_CENTER_CLIENT_SECRET found; the code is redeemed as a public client and the token is not checked against the app secret.',
    );
  }

  const result = await runConsent({
    flow: args.deviceCode ? 'device-code' : 'authorization-code',
    tenantId: settings.tenantId,
    clientId: settings.clientId,
    authorityHost: settings.authorityHost,
    clientSecret,
    allowWithoutMfa: args.allowWithoutMfa,
    store,
    say,
    port: args.port,
    timeoutMs: args.timeoutSeconds * 1000,
    openUrl: args.open ? openInBrowser : undefined,
  });

  const secretName = keyVaultSecretName('PARTNER_CENTER_REFRESH_TOKEN');
  if (result.storedIn) {
    say(
      `Stored the refresh token in Key Vault ${settings.keyVaultUrl} as "${secretName}" (a new version, consent generation ${result.generation}).`,
    );
    say('The app switches to it within SECRET_CACHE_TTL_SECONDS (5 minutes by default) and never writes the older');
    say("consent's token over it. To cut off the older consent, revoke the admin's sessions in Entra ID.");
  } else {
    say('No KEY_VAULT_URL: the refresh token was not stored. For local development, set it as');
    say('PARTNER_CENTER_REFRESH_TOKEN in local.settings.json (Values) or in the environment.');
    if (!args.printToken) say('Run again with --print-token to print it.');
  }
  if (args.deviceCode) {
    say('');
    say('Device code consent done: switch "Allow public client flows" back to No in the app registration');
    say('(Authentication > Advanced settings); the app itself never needs it.');
  }
  if (args.printToken) {
    say('');
    say('PARTNER_CENTER_REFRESH_TOKEN (a secret: do not paste it into chats, tickets, logs or commits):');
    say(result.refreshToken);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${USAGE}`);
    } else if (error instanceof ConsentError || error instanceof ConfigError) {
      console.error(error.message);
    } else if (error instanceof SecretAccessError) {
      console.error(error.message);
      console.error(
        'Sign in to Azure as someone with Key Vault Secrets Officer on partner-center-client-secret and partner-center-refresh-token (azd up grants it to whoever ran it, until DEPLOYER_SECRET_ACCESS=false): az login, or azd auth login. "HTTP 403 Forbidden" on the client secret also means it has not been stored yet (docs/deploy.md, step 4).',
      );
    } else {
      console.error(error instanceof Error ? `${error.name}: ${error.message}` : 'Consent failed');
    }
    process.exitCode = 1;
  },
);
