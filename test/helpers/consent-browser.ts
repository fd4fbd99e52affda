/** The admin's browser: follows Entra's redirect to the consent's loopback listener, as a real browser would. */
export async function consentBrowser(url: string): Promise<void> {
  const authorize = await fetch(url, { redirect: 'manual' });
  expect(authorize.status).toBe(302);
  const redirect = authorize.headers.get('location')!;
  expect(redirect).toMatch(/^http:\/\/localhost:\d+\/?\?/);
  const landing = await fetch(redirect);
  expect(landing.status).toBe(200);
  expect(await landing.text()).toContain('Consent received');
}
