import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SETTING_NAMES, SETTINGS } from '../../../shared/config';
import { readmeSettings } from '../../helpers/readme-settings';

const root = path.join(__dirname, '../../..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const sample = JSON.parse(readFileSync(path.join(root, 'local.settings.sample.json'), 'utf8')) as {
  Values: Record<string, string>;
};

describe('documentation stays true', () => {
  it.each(SETTING_NAMES)('the README settings table names %s', (name) => {
    expect(readme).toContain(name.replace(/^AzureWebJobsStorage__/, '__'));
  });

  it.each(SETTING_NAMES)('local.settings.sample.json lists %s', (name) => {
    if (name.startsWith('AzureWebJobsStorage__')) return; // identity-based storage exists only in Azure
    expect(sample.Values).toHaveProperty(name);
  });

  it('the README calls a setting required exactly when the app refuses to start without it', () => {
    const documented = new Map(readmeSettings().map((row) => [row.name, row.fallback]));
    // Storage is required in one of two forms: a connection string, or the identity-based __ settings.
    const requiredInAForm = ['AzureWebJobsStorage'];
    for (const name of SETTING_NAMES.filter((n) => !n.startsWith('AzureWebJobsStorage__'))) {
      const required = SETTINGS[name].required || requiredInAForm.includes(name);
      expect({ name, required: documented.get(name) === 'required' }).toEqual({ name, required });
    }
  });

  it('the sample settings hold no secret values', () => {
    for (const name of [
      'PARTNER_CENTER_CLIENT_SECRET',
      'PARTNER_CENTER_REFRESH_TOKEN',
      'WEBHOOK_SIGNING_SECRET',
      'CALLBACK_SIGNING_SECRET',
    ]) {
      expect(sample.Values[name]).toBe('');
    }
  });

  it('the quick start has exactly the two documented command lines', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm install && npm test');
  });
});
