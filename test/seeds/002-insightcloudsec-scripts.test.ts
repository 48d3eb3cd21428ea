// Seed 002, the InsightCloudSec scripts: their request shapes (headers, body encoding, how the
// session id is read and sent back), pointed at Steward's login and an authenticated read.
// The scripts' own paths (/v2/public/user/login, /v2/prototype/...) are InsightCloudSec's; the
// shapes are what a script ported to Steward keeps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../helpers/process.js';
import { api, expectStatus, SEED_ADMIN_PASSWORD, type SeedManager, startSeedManager } from './harness.js';

let m: SeedManager;
let apiKey: string;

beforeAll(async () => {
  m = await startSeedManager();
  apiKey = expectStatus(
    await api(m, 'POST', '/api/v1/tokens/', { name: 'insightcloudsec-script' }),
    201,
  ).json().token as string;
});
afterAll(async () => {
  await m?.stop();
});

describe('seed 002: API Key Authentication (Python and Bash/cURL examples)', () => {
  it("Python: requests.get(url, data=json.dumps({}), headers={'Content-Type': 'application/json;charset=UTF-8', 'Accept': 'application/json', 'Api-Key': key})", async () => {
    const res = await call(`${m.baseUrl}/api/v1/auth/whoami/`, {
      method: 'GET',
      headers: {
        'Content-Type': 'application/json;charset=UTF-8',
        Accept: 'application/json',
        'Api-Key': apiKey,
        // requests sends a body with its length.
        'Content-Length': '2',
      },
      body: JSON.stringify({}),
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json().auth_method).toBe('api_token');
  });

  it('Bash: curl --request GET --header "content-type: application/json" --header "accept-encoding: gzip" --header "Api-Key: $api_key" | gunzip', async () => {
    const res = await call(`${m.baseUrl}/api/v1/configuration/appliances/?page_size=100`, {
      method: 'GET',
      headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip', 'Api-Key': apiKey },
    });
    expect(res.status).toBe(200);
    // The script pipes the answer through gunzip: it must be gzip when large enough to compress.
    expect([undefined, 'gzip']).toContain(res.headers['content-encoding']);
  });
});

describe('seed 002: Auth Token Authentication (Python example)', () => {
  it("get_token(): requests.request('POST', url, json=data, headers={'Content-Type': 'text/plain', ...}); headers['x-auth-token'] = response.json().get('session_id')", async () => {
    const headers: Record<string, string> = { 'Content-Type': 'text/plain', Accept: 'application/json' };
    // requests' json= serialises with json.dumps and keeps the Content-Type the caller set.
    const login = await call(`${m.baseUrl}/api/v1/auth/token/`, {
      method: 'POST',
      headers: {
        ...headers,
        'Content-Length': String(
          Buffer.byteLength(JSON.stringify({ username: 'admin', password: SEED_ADMIN_PASSWORD })),
        ),
      },
      body: JSON.stringify({ username: 'admin', password: SEED_ADMIN_PASSWORD }),
    });
    expect(login.status, login.body).toBe(200);
    const sessionId = login.json().session_id as string;
    expect(sessionId).toBeTruthy();
    headers['x-auth-token'] = sessionId;
    // get_org(): requests.get(url, data=json.dumps({}), headers=headers) with those headers.
    const org = await call(`${m.baseUrl}/api/v1/auth/whoami/`, {
      method: 'GET',
      headers: { ...headers, 'Content-Length': '2' },
      body: JSON.stringify({}),
    });
    expect(org.status, org.body).toBe(200);
    expect(org.json()).toMatchObject({ auth_method: 'session', credential_source: 'x_auth_token' });
    // "If the session expires or the user logs out, the auth token will no longer be valid."
    const logout = await call(`${m.baseUrl}/api/v1/auth/logout/`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'text/plain', 'Content-Length': '2' },
      body: JSON.stringify({}),
    });
    expect(logout.status, logout.body).toBe(200);
    expect((await call(`${m.baseUrl}/api/v1/auth/whoami/`, { headers })).status).toBe(401);
  });
});
