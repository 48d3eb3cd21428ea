// Seed 003, "Obtain an authorization token": the login form and the first example URL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, expectStatus, type SeedManager, seedCurl, startSeedManager } from './harness.js';

let m: SeedManager;
const USER_PASSWORD = 'User 123 Passphrase For Seeds';

beforeAll(async () => {
  m = await startSeedManager();
  expectStatus(
    await api(m, 'POST', '/api/v1/authentication/users/add/', {
      username: 'user123',
      email: 'user123@example.com',
      password: USER_PASSWORD,
    }),
    201,
  );
});
afterAll(async () => {
  await m?.stop();
});

describe('seed 003: Obtain an authorization token', () => {
  it('Call the authentication API with your username and password (multipart/form-data)', async () => {
    const command = `curl -X POST 'https://c1000.example.com/api/v1/auth/token/' --form "username=user123" --form "password=pass123"`;
    // Deliberate difference: `pass123` is shorter than the password policy allows, so no account
    // can have it; the seed's own password is refused like any wrong password.
    const refused = await seedCurl(command, m);
    expect(refused.status, refused.body).toBe(401);
    // The same command with the account's real password answers the token.
    const res = expectStatus(
      await seedCurl(command, m, { replace: { 'password=pass123': `password=${USER_PASSWORD}` } }),
      200,
    );
    const token = res.json().token as string;
    expect(token.length).toBeGreaterThanOrEqual(30);
    expect(token.length).toBeLessThanOrEqual(60);
    expect(token).toMatch(/^[A-Za-z0-9]+$/);
    const who = expectStatus(
      await seedCurl(
        `curl -H "Authorization: Token <token>" https://c1000.example.com/api/v1/auth/whoami/`,
        m,
        {
          token,
        },
      ),
      200,
    );
    expect(who.json().user.username).toBe('user123');
  });

  it('This token has to be included in all further requests: curl -H "Authorization: Token <token>" .../api/configuration/appliances', async () => {
    const res = expectStatus(
      await seedCurl(
        `curl -H "Authorization: Token <token>" https://c1000.example.com/api/configuration/appliances`,
        m,
      ),
      200,
    );
    expect(res.json()).toMatchObject({ count: 0, results: [] });
  });
});
