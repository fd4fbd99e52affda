import { readmeSettingNames } from '../../helpers/readme-settings';

/** How one setting shows in what the app does. */
export interface Probe {
  /** Another valid value than the default. */
  changed: string;
  /** What the app does with the setting at `value` (undefined: the default). */
  observe(value: string | undefined): Promise<unknown>;
  /** What it must do at the default, and at `changed`. */
  atDefault: unknown;
  atChanged: unknown;
}

/**
 * The settings the README's settings table documents under `prefix`: each must have a probe, and each probe must show
 * the app doing what it says at the default and at another value (and something different at each).
 */
export function describeSettingProbes(
  title: string,
  prefix: string,
  probes: Record<string, Probe>,
  atLeast: number,
): void {
  const documented = readmeSettingNames().filter((name) => name.startsWith(prefix));
  describe(title, () => {
    it(`the README documents ${prefix}* settings, and each has a probe here`, () => {
      expect(documented.length).toBeGreaterThanOrEqual(atLeast);
      expect(documented.filter((name) => !(name in probes))).toEqual([]);
    });

    it.each(documented.filter((name) => name in probes))('%s', async (name) => {
      const probe = probes[name];
      const atDefault = await probe.observe(undefined);
      const atChanged = await probe.observe(probe.changed);
      expect({ name, atDefault, atChanged }).toEqual({ name, atDefault: probe.atDefault, atChanged: probe.atChanged });
      expect(atChanged).not.toEqual(atDefault);
    });
  });
}
