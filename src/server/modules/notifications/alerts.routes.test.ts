// Alerts through real peers on loopback: an SMTP server (nodemailer delivers to it), a net-snmp
// notification receiver (decodes the v2c traps) and a syslog UDP listener. The token expiry job
// runs on its timers (shortened), several times, and warns each token once.
import { createSocket, type Socket } from 'node:dgram';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent } from '../../../../test/helpers/agent.js';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { startTrapReceiver, waitFor } from '../../../../test/helpers/system.js';
import { createAlerts } from './alerts.js';
import { createAlertsRepo } from './alerts.repo.js';
import { createMailer } from './mailer.js';
import { createTrapSender, OBJECT_OIDS, parseTrapSink, TRAP_OIDS } from './snmp-traps.js';

let t: TestContext;
let admin: Record<string, string>;
let smtp: SMTPServer;
let trapRx: Awaited<ReturnType<typeof startTrapReceiver>>;
let syslogRx: Socket;
const mails: { to: string[]; data: string }[] = [];
const syslog: string[] = [];

beforeAll(async () => {
  t = await createTestContext({
    jobIntervals: { tokenExpiryFirst: 20, tokenExpiry: 150, hostThresholds: 100, fleetHealth: 150 },
  });
  admin = await t.adminHeaders();
  smtp = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    onData(stream, session, cb) {
      let data = '';
      stream.on('data', (c: Buffer) => {
        data += c.toString('utf8');
      });
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), data });
        cb();
      });
    },
  });
  await new Promise<void>((res) => smtp.listen(0, '127.0.0.1', () => res()));
  trapRx = await startTrapReceiver();
  syslogRx = createSocket('udp4');
  syslogRx.on('message', (m) => syslog.push(m.toString('utf8')));
  await new Promise<void>((res) => syslogRx.bind(0, '127.0.0.1', () => res()));
  const post = async (url: string, payload: object) => {
    const res = await t.app.inject({ method: 'POST', url, headers: admin, payload });
    expect(res.statusCode, res.body).toBe(200);
  };
  await post('/api/v1/config/smtp/', {
    host: '127.0.0.1',
    port: (smtp.server.address() as { port: number }).port,
    default_from_email: 'steward@example.com',
  });
  await post('/api/v1/config/snmp/', {
    trap_sink_enable: true,
    trap_sink: `127.0.0.1:${trapRx.port}`,
    trap_community: 'traps-community',
  });
  await post('/api/v1/config/systemalerting/', {
    syslog_enable: true,
    syslog_host: '127.0.0.1',
    syslog_port: (syslogRx.address() as { port: number }).port,
    token_expiry_warning_days: 3,
  });
});
afterAll(async () => {
  await t?.close();
  await new Promise<void>((res) => smtp?.close(() => res()));
  await trapRx?.close();
  syslogRx?.close();
});

async function userWithEmail(email: string) {
  const username = `owner${Math.random().toString(16).slice(2, 8)}`;
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/authentication/users/add/',
    headers: admin,
    payload: { username, role: 'operator', api_only: true, email },
  });
  expect(res.statusCode, res.body).toBe(201);
  return { id: res.json().id as number, username };
}

async function tokenFor(ownerId: number, name: string, inMs: number) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/tokens/',
    headers: admin,
    payload: {
      name,
      owner_id: ownerId,
      scopes: ['appliances:read'],
      expires_at: new Date(t.clock.now().getTime() + inMs).toISOString(),
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id as number;
}

const DAY = 24 * 60 * 60 * 1000;

/** The Subject header, with RFC 2047 Q-encoded words decoded. */
function subjectOf(data: string) {
  const raw = /^Subject: (.*(?:\r?\n .*)*)/m.exec(data)?.[1] ?? '';
  return raw.replace(/\?=\r?\n =\?UTF-8\?Q\?/g, '').replace(/=\?UTF-8\?Q\?(.*?)\?=/g, (_m, w: string) =>
    Buffer.from(
      w
        .replace(/_/g, ' ')
        .replace(/=([0-9A-F]{2})/g, (_x, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
      'latin1',
    ).toString('utf8'),
  );
}

describe('token expiry warnings', () => {
  it('mail the owner once per token, trap and syslog it; tokens further out wait', async () => {
    const alice = await userWithEmail('alice@example.com');
    const soon = await tokenFor(alice.id, 'soar-integration', 2 * DAY);
    const later = await tokenFor(alice.id, 'siem-feed', 10 * DAY);
    await t.app.startJobs();
    await waitFor(() => mails.some((m) => m.data.includes('soar-integration')));
    // Let the job run several more times: still one mail for the token.
    await new Promise((r) => setTimeout(r, 700));
    const warnings = mails.filter((m) => m.data.includes('soar-integration'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.to).toEqual(['alice@example.com']);
    expect(subjectOf(warnings[0]?.data ?? '')).toBe(
      'Steward: API token "soar-integration" expires in 2 days',
    );
    expect(mails.some((m) => m.data.includes('siem-feed'))).toBe(false);

    await waitFor(() => trapRx.traps.some((x) => x.trapOid === TRAP_OIDS.tokenExpiring));
    const trap = trapRx.traps.find((x) => x.trapOid === TRAP_OIDS.tokenExpiring);
    expect(trap?.community).toBe('traps-community');
    expect(trap?.values[OBJECT_OIDS.tokenId]).toBe(soon);
    expect(trap?.values[OBJECT_OIDS.tokenName]).toBe('soar-integration');
    expect(trap?.values[OBJECT_OIDS.tokenOwner]).toBe(alice.username);
    await waitFor(() => syslog.some((l) => l.includes(' token.expiring ') && l.includes('soar-integration')));

    const sent = await t.db.selectFrom('token_expiry_alerts').selectAll().execute();
    expect(sent.map((r) => r.token_id)).toEqual([soon]);
    expect(sent[0]?.recipients).toBe('alice@example.com');

    // Eight days later the other token is inside the window: warned once too.
    t.clock.advance(8 * DAY);
    await waitFor(() => mails.some((m) => m.data.includes('siem-feed')));
    await new Promise((r) => setTimeout(r, 400));
    expect(mails.filter((m) => m.data.includes('siem-feed'))).toHaveLength(1);
    expect(mails.filter((m) => m.data.includes('soar-integration'))).toHaveLength(1);
    expect((await t.db.selectFrom('token_expiry_alerts').select('token_id').execute()).length).toBe(2);
    expect(later).toBeGreaterThan(soon);
    // The admin session did not live through eight days.
    t.forgetAdminSession();
    admin = await t.adminHeaders();
  });

  it('rejects a warning period out of range, naming the field', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/config/systemalerting/',
      headers: admin,
      payload: { token_expiry_warning_days: 400 },
    });
    expect(res.statusCode).toBe(400);
    expect(JSON.stringify(res.json().errors)).toContain('token_expiry_warning_days');
  });
});

describe('appliance offline/online alerts', () => {
  it('follow a real agent that stops answering and comes back (health polling -> alerts)', async () => {
    const agent = await startTestAgent({ type: 'a1000', name: 'analyze-alert' });
    try {
      const created = await t.app.inject({
        method: 'POST',
        url: '/api/v1/appliances/create/',
        headers: admin,
        payload: { name: 'analyze-alert', type: 'a1000', url: agent.url },
      });
      expect(created.statusCode, created.body).toBe(201);
      const id = created.json().id as number;
      const auth = await t.app.inject({
        method: 'PUT',
        url: `/api/v1/appliances/${id}/authorization/`,
        headers: admin,
        payload: { token: agent.token },
      });
      expect(auth.statusCode, auth.body).toBe(200);
      const named = (oid: string) =>
        trapRx.traps.filter(
          (x) => x.trapOid === oid && x.values[OBJECT_OIDS.applianceName] === 'analyze-alert',
        );
      // startJobs ran in the token test: health polling is on.
      const online = async () =>
        (await t.app.inject({ method: 'GET', url: `/api/v1/appliances/${id}/`, headers: admin })).json()
          .online as boolean;
      const end = Date.now() + 20_000;
      while (!(await online()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect(await online()).toBe(true);
      await agent.close();
      await waitFor(() => named(TRAP_OIDS.applianceOffline).length > 0, 20_000);
      expect(named(TRAP_OIDS.applianceOffline)[0]?.values[OBJECT_OIDS.applianceId]).toBe(id);
      await waitFor(() => mails.some((m) => m.data.includes('analyze-alert is offline')), 10_000);
      await waitFor(() =>
        syslog.some((l) => l.includes(' appliance.offline ') && l.includes('analyze-alert')),
      );
      // One transition, one alert: later polls of the still-offline appliance send nothing.
      await new Promise((r) => setTimeout(r, 600));
      expect(named(TRAP_OIDS.applianceOffline)).toHaveLength(1);
      const back = await agent.restart();
      try {
        await waitFor(() => named(TRAP_OIDS.applianceOnline).length > 0, 20_000);
        await waitFor(() => mails.some((m) => m.data.includes('analyze-alert is online')), 10_000);
      } finally {
        await back.close();
      }
    } finally {
      await agent.cleanup();
    }
  });

  it('go out by mail to the admins, as a trap and to syslog', async () => {
    const settings = async (name: string) => {
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/config/${name}/`, headers: admin });
      return res.json() as Record<string, unknown>;
    };
    const alerts = createAlerts({
      repo: createAlertsRepo(t.db),
      clock: t.clock,
      mailer: createMailer(async () => ({ ...(await settings('smtp')), password: undefined }) as never),
      smtp: () => settings('smtp'),
      alerting: () => settings('systemalerting'),
      syslog: {
        send: async (m) => {
          syslog.push(`${m.msgId} ${m.message}`);
          return true;
        },
      },
      traps: createTrapSender(async () => ({ host: '127.0.0.1', port: trapRx.port, community: 'c' })),
      log: () => {},
    });
    await alerts.applianceTransition({
      online: false,
      appliance: { id: 7, name: 'worker-07', type: 'tiscale-worker' },
      reason: 'no answer for 30 s',
    });
    const mail = mails.find((m) => m.data.includes('worker-07 is offline'));
    // No admin has an email address here: the From address gets it.
    expect(mail?.to).toEqual(['steward@example.com']);
    expect(mail?.data).toContain('Reason: no answer for 30 s');
    const w07 = (oid: string) =>
      trapRx.traps.find((x) => x.trapOid === oid && x.values[OBJECT_OIDS.applianceName] === 'worker-07');
    await waitFor(() => w07(TRAP_OIDS.applianceOffline) !== undefined);
    const trap = w07(TRAP_OIDS.applianceOffline);
    expect(trap?.values[OBJECT_OIDS.applianceName]).toBe('worker-07');
    expect(trap?.values[OBJECT_OIDS.applianceId]).toBe(7);
    expect(syslog).toContain(
      'appliance.offline appliance worker-07 (tiscale-worker, id 7) is offline: no answer for 30 s',
    );

    await alerts.applianceTransition({
      online: true,
      appliance: { id: 7, name: 'worker-07', type: 'tiscale-worker' },
      reason: 'answered again',
    });
    await waitFor(() => w07(TRAP_OIDS.applianceOnline) !== undefined);
    expect(mails.some((m) => m.data.includes('worker-07 is online'))).toBe(true);
  });
});

describe('backup failed alert', () => {
  it('mails the admins and traps when a background backup fails', async () => {
    // A file where the backups directory should be: the backup cannot be written.
    writeFileSync(join(t.dataDir, 'backups'), 'not a directory');
    try {
      // Backups need the admin's passphrase first (docs/administration.md, "Backups").
      const pass = await t.app.inject({
        method: 'POST',
        url: '/api/v1/config/backup/',
        headers: admin,
        payload: { passphrase: 'alerts test backup passphrase' },
      });
      expect(pass.statusCode, pass.body).toBe(200);
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/backup/create/', headers: admin });
      expect(res.statusCode, res.body).toBe(202);
      await waitFor(() => trapRx.traps.some((x) => x.trapOid === TRAP_OIDS.backupFailed), 20_000);
      const trap = trapRx.traps.find((x) => x.trapOid === TRAP_OIDS.backupFailed);
      expect(String(trap?.values[OBJECT_OIDS.message])).toMatch(/^Steward backup failed: /);
      await waitFor(() => mails.some((m) => subjectOf(m.data) === 'Steward backup failed'), 10_000);
      await waitFor(() => syslog.some((l) => l.includes(' backup.failed ')));
    } finally {
      rmSync(join(t.dataDir, 'backups'), { force: true });
    }
  });
});

describe('SNMP thresholds', () => {
  it('trap once when the data directory disk crosses its threshold (measured on this host)', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/config/snmp/',
      headers: admin,
      payload: {
        trap_disk_threshold: 0.01,
        trap_memory_threshold: 0,
        trap_avg_load_threshold_1min: 0,
        trap_avg_load_threshold_5min: 0,
        trap_avg_load_threshold_15min: 0,
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    const disk = () =>
      trapRx.traps.filter(
        (x) => x.trapOid === TRAP_OIDS.hostThreshold && x.values[OBJECT_OIDS.metric] === 'disk',
      );
    await waitFor(() => disk().length > 0);
    // Still over the threshold on the next checks: no second trap.
    await new Promise((r) => setTimeout(r, 500));
    expect(disk()).toHaveLength(1);
    expect(Number(disk()[0]?.values[OBJECT_OIDS.value])).toBeGreaterThanOrEqual(0);
    expect(String(disk()[0]?.values[OBJECT_OIDS.message])).toMatch(
      /^disk at [\d.]+% is over the 0.01% threshold$/,
    );
  });
});

describe('parseTrapSink', () => {
  it('takes host, host:port and [v6]:port; 162 by default', () => {
    expect(parseTrapSink('nms.example.com')).toEqual({ host: 'nms.example.com', port: 162 });
    expect(parseTrapSink('192.0.2.50:1162')).toEqual({ host: '192.0.2.50', port: 1162 });
    expect(parseTrapSink('[2001:db8::1]:1162')).toEqual({ host: '2001:db8::1', port: 1162 });
    expect(parseTrapSink('2001:db8::1')).toEqual({ host: '2001:db8::1', port: 162 });
  });
});
