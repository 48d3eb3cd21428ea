// Seed 003, "Set up the Manager": users, network settings (certificate upload), time sync, user
// authentication, Spectra Intelligence, manager update, licensing, logging and alerting, YARA
// sync and the redundant cluster, against the built `steward serve`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createThrowawayDatabase, PG_URL } from '../helpers/database.js';
import { call, runSteward, startManager } from '../helpers/process.js';
import {
  api,
  eventually,
  expectStatus,
  type SeedManager,
  seedCurl,
  seedRequest,
  startSeedManager,
} from './harness.js';

let m: SeedManager;
const work = mkdtempSync(join(tmpdir(), 'steward-seed-setup-'));

beforeAll(async () => {
  m = await startSeedManager();
});
afterAll(async () => {
  await m?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A PEM file of exactly `size` bytes: PEM allows explanatory text before the block (RFC 7468). */
function pemOfSize(pem: string, size: number): string {
  const body = pem.endsWith('\n') ? pem : `${pem}\n`;
  const room = size - body.length - 1;
  if (room < 0) throw new Error(`PEM is ${body.length} bytes, more than ${size}`);
  return `${'#'.repeat(room)}\n${body}`;
}

describe('seed 003: Set up authentication', () => {
  it('Change admin password: GET /api/v1/authentication/users/ then PUT .../users/{id}/password/', async () => {
    const users = expectStatus(await seedRequest(m, 'GET /api/v1/authentication/users/'), 200).json();
    expect(users).toMatchObject({ count: 1, next: null, previous: null });
    expect(users.results[0]).toMatchObject({ id: 1, username: 'admin', is_superuser: true, is_active: true });
    const id = users.results[0].id as number;
    const res = await seedRequest(m, `PUT /api/v1/authentication/users/${id}/password/`, {
      password: 'Correct Horse Battery Staple',
    });
    expectStatus(res, 200);
    const login = await call(`${m.baseUrl}/api/v1/auth/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'Correct Horse Battery Staple' }),
    });
    expect(login.status).toBe(200);
  });

  it('Example adding a user: curl --json \'{"username":"hello",...,"password":"example"}\' is refused (password policy)', async () => {
    const res = await seedCurl(
      `curl --url https://{server}/api/v1/authentication/users/add/
--header 'Authorization: Token <token>'
--json '{"username":"hello","email":"example@example.com","password":"example"}'`,
      m,
    );
    // Deliberate difference (docs/api-conventions.md): "example" is shorter than the policy allows.
    expect(res.status, res.body).toBe(400);
    expect(res.json().errors[0].field).toBe('body.password');
    const users = (await api(m, 'GET', '/api/v1/authentication/users/')).json();
    expect(users.results.map((u: { username: string }) => u.username)).not.toContain('hello');
  });

  it('Creates a new user: POST /api/v1/authentication/users/add/ with the request body', async () => {
    const res = await seedRequest(m, 'POST /api/v1/authentication/users/add/', {
      username: 'string',
      email: 'user@example.com',
      first_name: 'string',
      last_name: 'string',
      password: 'A long enough passphrase 2026',
    });
    expect(res.status, res.body).toBe(201);
    expect(res.json()).toMatchObject({ username: 'string', email: 'user@example.com', is_active: true });
  });

  it('Example deleting a user: curl --url .../users/3/delete --request DELETE', async () => {
    // The seed deletes user 3: make sure there is one (1 is admin, 2 was added above).
    const third = expectStatus(
      await api(m, 'POST', '/api/v1/authentication/users/add/', {
        username: 'third',
        password: 'A long enough passphrase 2026',
      }),
      201,
    ).json();
    expect(third.id).toBe(3);
    const res = await seedCurl(
      `curl --url https://{server}/api/v1/authentication/users/3/delete
--header 'Authorization: Token <token>'
--request DELETE`,
      m,
    );
    expect(res.status, res.body).toBeLessThan(300);
    expect((await api(m, 'GET', '/api/v1/authentication/users/3/')).status).toBe(404);
  });
});

describe('seed 003: Configure network settings', () => {
  let certName: string;
  let keyName: string;
  let pems: { cert: string; private: string };

  it('Upload SSL certificate: curl -X POST .../api/v1/system/upload/ -F ... -F "file=@ssl_cert.pem"', async () => {
    // RSA-1024 so that the certificate fits in the seed's 892 bytes (padded up to them).
    pems = await generate([{ name: 'commonName', value: 'c1000.example.com' }], { keySize: 1024 });
    // flowTotalSize=892 in the seed's command: the file is made exactly that long.
    writeFileSync(join(work, 'ssl_cert.pem'), pemOfSize(pems.cert, 892));
    const res = await seedCurl(
      `curl -X POST https://{server}/api/v1/system/upload/ -H "Authorization: Token <token>" -F "flowChunkNumber=1" -F "flowCurrentChunkSize=892" -F "flowFilename=valid_cert.pem" -F "flowIdentifier=ce2e9dc99cf44b64ab09b67ff58370f7" -F "flowTotalSize=892" -F "file=@ssl_cert.pem"`,
      m,
      { cwd: work },
    );
    expect(res.status, res.body).toBeLessThan(300);
    certName = 'ce2e9dc99cf44b64ab09b67ff58370f7.valid_cert.pem';
    // "Repeat the process to upload the certificate key."
    const key = `${pems.private}\n`;
    writeFileSync(join(work, 'ssl_cert.key'), key);
    const size = Buffer.byteLength(key);
    const k = await seedCurl(
      `curl -X POST https://{server}/api/v1/system/upload/ -H "Authorization: Token <token>" -F "flowChunkNumber=1" -F "flowCurrentChunkSize=${size}" -F "flowFilename=valid_cert.key" -F "flowIdentifier=0f1e2d3c4b5a69788796a5b4c3d2e1f0" -F "flowTotalSize=${size}" -F "file=@ssl_cert.key"`,
      m,
      { cwd: work },
    );
    expect(k.status, k.body).toBeLessThan(300);
    keyName = '0f1e2d3c4b5a69788796a5b4c3d2e1f0.valid_cert.key';
  });

  it('Configure the application URL and allowed hosts: POST /api/v1/config/network/ with the example body', async () => {
    const uploads = join(m.dataDir, 'uploads');
    const res = await seedRequest(m, 'POST /api/v1/config/network/', {
      base_url: 'c1000.example.com',
      allowed_hosts: 'worker1.example.com\nworker2.example.com',
      certificate_path: join(uploads, certName),
      certificate_key_path: join(uploads, keyName),
      reset_ssl: true,
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      base_url: 'https://c1000.example.com',
      allowed_hosts: 'worker1.example.com\nworker2.example.com',
    });
    // The running server now presents the uploaded certificate (no restart).
    const served = await new Promise<string>((resolve, reject) => {
      import('node:tls').then(({ connect }) => {
        const url = new URL(m.baseUrl);
        const s = connect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false }, () => {
          resolve(s.getPeerX509Certificate()?.subject ?? '');
          s.end();
        });
        s.on('error', reject);
      }, reject);
    });
    expect(served).toContain('c1000.example.com');
    expect(readFileSync(join(m.dataDir, 'tls', 'manager.crt'), 'utf8')).not.toContain('PRIVATE KEY');
  });

  it('Set network time sync: POST /api/v1/config/ntp/', async () => {
    const res = await seedRequest(m, 'POST /api/v1/config/ntp/', {
      enable: true,
      servers: 'ntp1.example.com\nntp2.example.com',
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json()).toMatchObject({ enable: true, servers: 'ntp1.example.com\nntp2.example.com' });
  });
});

describe('seed 003: Configure user authentication', () => {
  it('Federated login: POST /api/v1/config/directory/, then GET to verify', async () => {
    const res = await seedRequest(m, 'POST /api/v1/config/directory/', {
      ldap_enable: false,
      ldap_url: 'ldaps://ldap.example.com',
    });
    expect(res.status, res.body).toBe(200);
    const get = expectStatus(await seedRequest(m, 'GET /api/v1/config/directory/'), 200);
    expect(get.json()).toMatchObject({ ldap_url: 'ldaps://ldap.example.com' });
  });

  it('Enable SSH root login: POST /api/v1/system/config/sshd/', async () => {
    const res = await seedRequest(m, 'POST /api/v1/system/config/sshd/', {
      banner_content: 'string',
      macs: 'hmac-sha2-256',
      ciphers: 'aes256-gcm@openssh.com',
      kexalgorithms: 'curve25519-sha256',
      authorized_keys_file: '.ssh/authorized_keys',
      client_alive_interval: '300',
      client_alive_count_max: '3',
      permit_root_login: 'yes',
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json()).toMatchObject({ permit_root_login: 'yes' });
  });
});

describe('seed 003: Configure Spectra Intelligence, update and license the Manager', () => {
  it('Configure Spectra Intelligence: POST /api/v1/config/ticloud/ with the example body, GET to verify', async () => {
    const res = await seedRequest(m, 'POST /api/v1/config/ticloud/', {
      enable: true,
      url: 'https://appliance-api.reversinglabs.com',
      user: 'u/myusername',
      token: 'exampleABC123',
      timeout: 10,
    });
    expect(res.status, res.body).toBe(200);
    const get = expectStatus(await seedRequest(m, 'GET /api/v1/config/ticloud/'), 200).json();
    expect(get).toMatchObject({ enable: true, user: 'u/myusername', token_set: true });
    expect(JSON.stringify(get)).not.toContain('exampleABC123');
  });

  it('Update the Manager: curl -X GET .../api/v1/update-system/available-update/', async () => {
    const res = await seedCurl(
      `curl -X GET https://{server}/api/v1/update-system/available-update/
-H 'Authorization: Token <token>'`,
      m,
    );
    expect(res.status, res.body).toBe(200);
    expect(res.json()).toMatchObject({ available: false });
  });

  it('Update the Manager: curl -X POST .../api/v1/update/latest/ (nothing newer: 409 saying why)', async () => {
    const res = await seedCurl(
      `curl -X POST https://{server}/api/v1/update/latest/
-H 'Authorization: Token <token>'`,
      m,
    );
    expect(res.status, res.body).toBe(409);
    expect(res.json().detail).toBeTruthy();
  });

  it("Using Spectra Intelligence: curl -X POST '.../api/v1/license/configure/cloud' --header 'Content-Type: application/json' ...", async () => {
    const command = `curl -X POST 'https://c1000.example.com/api/v1/license/configure/cloud' --header 'Content-Type: application/json' --header 'Authorization: Token exampletoken' --data '{ "url": "https://appliance-api.reversinglabs.com", "user": "string", "token": "string", "timeout": 1, "proxy_enabled": true, "proxy_host": "string", "proxy_port": 0, "proxy_user": "string", "proxy_password": "string" }'`;
    const res = await seedCurl(command, m);
    // Deliberate difference (docs/api-conventions.md): the example enables the proxy with port 0,
    // which means "no port"; a proxy that cannot be reached is refused, naming the field.
    expect(res.status, res.body).toBe(400);
    expect(res.json().errors[0].field).toBe('body.proxy_host');
    const withPort = await seedCurl(command, m, { replace: { '"proxy_port": 0': '"proxy_port": 3128' } });
    expect(withPort.status, withPort.body).toBe(200);
    const get = expectStatus(await seedRequest(m, 'GET /api/v1/license/configure/cloud/'), 200).json();
    expect(get).toMatchObject({
      user: 'string',
      proxy_enabled: true,
      token_set: true,
      proxy_password_set: true,
    });
  });

  let machineId: string;
  it("Using a license file: curl -X POST .../api/v1/license/machine-id/generate/ -H 'Authorization: Token exampletoken'", async () => {
    const res = await seedCurl(
      `curl -X POST https://c1000.example.com/api/v1/license/machine-id/generate/ -H 'Authorization: Token exampletoken'`,
      m,
    );
    expect(res.status, res.body).toBeLessThan(300);
    machineId = JSON.stringify(res.json()).match(/[0-9a-f]{32}/i)?.[0] as string;
    expect(machineId).toMatch(/^[0-9a-f]{32}$/i);
  });

  it("Using a license file: curl -X PUT .../api/v1/license/upload -F 'file=@example_license_file' (no vendor key configured: refused)", async () => {
    // The vendor signs the licence for the machine id (`steward license issue`). This manager was
    // started without STEWARD_LICENSE_PUBLIC_KEY_FILE, so it cannot trust any licence.
    expect((await runSteward(['license', 'keygen', '--out-dir', work])).code).toBe(0);
    const issued = await runSteward([
      'license',
      'issue',
      '--key',
      join(work, 'vendor.key'),
      '--machine-id',
      machineId,
      '--company',
      'Example',
      '--expires',
      '2099-12-31',
      '--out',
      join(work, 'example_license_file'),
    ]);
    expect(issued.code, issued.stderr).toBe(0);
    const res = await seedCurl(
      `curl -X PUT https://example.c1000.com/api/v1/license/upload -H 'Authorization: Token exampletoken' -F 'file=@example_license_file'`,
      m,
      { cwd: work },
    );
    expect(res.status, res.body).toBe(400);
  });
});

describe('seed 003: Set up logging and alerting', () => {
  it.each([
    [
      'SNMP: POST /api/v1/config/snmp/',
      '/api/v1/config/snmp/',
      {
        enable: true,
        community: 'string',
        trap_sink_enable: true,
        trap_community: 'string',
        trap_sink: '127.0.0.1',
        trap_avg_load_threshold_1min: 1,
        trap_avg_load_threshold_5min: 1,
        trap_avg_load_threshold_15min: 1,
        trap_memory_threshold: 1,
        trap_disk_threshold: 1,
      },
    ],
    [
      'SMTP: POST /api/v1/config/smtp/',
      '/api/v1/config/smtp/',
      {
        host: '127.0.0.1',
        port: 65535,
        user: '',
        password: '',
        password_set: false,
        use_tls: false,
        default_from_email: 'user@example.com',
      },
    ],
    [
      'System alerting: POST /api/v1/config/systemalerting/',
      '/api/v1/config/systemalerting/',
      {
        syslog_enable: true,
        syslog_host: '127.0.0.1',
        syslog_port: 65535,
        syslog_transport_protocol: 'TCP',
        syslog_enable_audit_logs: true,
      },
    ],
    [
      'Central logging: POST /api/v1/config/central_logging/',
      '/api/v1/config/central_logging/',
      {
        central_logging__enable: true,
        central_logging__retention_period: 1,
        central_file_storage__enable: true,
        central_file_storage__ttl: 1,
        central_file_storage__file_size_limit: 1,
        central_storage_general__min_free_space: 10,
      },
    ],
    ['YARA sync: POST /api/v1/config/sync/', '/api/v1/config/sync/', { yararulesets_enable: true }],
  ])('%s (and GET returns it)', async (_name, path, body) => {
    const res = await seedRequest(m, `POST ${path}`, body);
    expect(res.status, res.body).toBe(200);
    const get = expectStatus(await seedRequest(m, `GET ${path}`), 200).json();
    const { password: _p, password_set: _s, ...visible } = body as Record<string, unknown>;
    expect(get).toMatchObject(visible);
  });
});

describe('seed 003: Set up a redundant cluster', () => {
  const create = {
    local_ip: '192.168.0.1',
    remote_ip: '192.168.0.2',
    vpn_network: '10.99.0.0/29',
    virtual_ip: '192.168.0.3',
    failover_timeout: 3,
  };

  it('POST /api/v1/cluster/create/ on the embedded database: 409 with the steps to move to PostgreSQL', async () => {
    const res = await seedRequest(m, 'POST /api/v1/cluster/create/', create);
    expect(res.status, res.body).toBe(409);
    expect(res.json().detail).toContain('steward backup create');
    expect(res.json().detail).toContain('steward backup restore');
  });

  it('POST /api/v1/cluster/exchange_keys/ and /api/v1/cluster/verify/ on the embedded database: 409', async () => {
    const ex = await seedRequest(m, 'POST /api/v1/cluster/exchange_keys/', {
      values: {
        local_ip: '192.168.0.1',
        remote_ip: '192.168.0.2',
        remote_url: 'https://192.168.0.2',
        user: 'admin',
        pwd: 'string',
      },
    });
    expect(ex.status, ex.body).toBe(409);
    const verify = await seedRequest(m, 'POST /api/v1/cluster/verify/', {
      remote_ip: '192.168.0.2',
      section: 'ssh',
    });
    expect(verify.status, verify.body).toBe(409);
  });

  it.runIf(Boolean(PG_URL))(
    'the steps of the 409 work: backup on the embedded manager, restore on one backed by PostgreSQL, then create',
    async () => {
      const db = await createThrowawayDatabase();
      const dataDir = mkdtempSync(join(tmpdir(), 'steward-seed-pg-'));
      try {
        // A token made on the embedded manager, to find again on the PostgreSQL one.
        const made = expectStatus(
          await api(m, 'POST', '/api/v1/tokens/', {
            name: 'moved',
            scopes: ['cluster:read', 'cluster:write'],
          }),
          201,
        ).json();
        // (1) The embedded manager keeps running, so the backup goes through its API (the CLI
        // refuses to open its data directory beside it), encrypted with the backup passphrase.
        const passphrase = 'seed cluster move passphrase';
        expectStatus(await api(m, 'POST', '/api/v1/config/backup/', { passphrase }), 200);
        expectStatus(await api(m, 'POST', '/api/v1/backup/create/'), 202);
        await eventually('the backup', async () => {
          const b = expectStatus(await api(m, 'GET', '/api/v1/backup/'), 200).json();
          return b.message === 'idle' && b.backup_filename;
        });
        const archive = join(work, 'steward-backup.tar.gz');
        const download = await seedCurl(
          `curl -X GET https://{server}/api/v1/backup/download/ -H 'Authorization: Token <token>' -o steward-backup.tar.gz`,
          m,
          { cwd: work },
        );
        expect(download.status).toBe(200);
        const env = {
          STEWARD_DATABASE_URL: db.url,
          STEWARD_DATA_DIR: dataDir,
          STEWARD_BACKUP_PASSPHRASE: passphrase,
        };
        expect((await runSteward(['migrate'], env)).code).toBe(0);
        const restore = await runSteward(['backup', 'restore', archive, '--yes', '--quiet'], env);
        expect(restore.code, restore.stderr).toBe(0);
        const key = readFileSync(join(m.dataDir, 'secret.key'), 'utf8').trim();
        const pg = await startManager({ ...env, STEWARD_SECRET_KEY: key });
        try {
          const res = await call(`${pg.baseUrl}/api/v1/cluster/create/`, {
            method: 'POST',
            headers: { authorization: `Token ${made.token}`, 'content-type': 'application/json' },
            body: JSON.stringify(create),
          });
          expect(res.status, res.body).toBe(200);
        } finally {
          await pg.stop();
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
        await db.drop();
      }
    },
  );
});
