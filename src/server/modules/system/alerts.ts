// Alerts: appliance offline/online, API tokens about to expire, backup failed. Each goes out on
// every channel the admin configured: mail (SMTP section), an SNMPv2c trap (SNMP section's trap
// sink) and a syslog message (system alerting section). A channel that fails is logged and does
// not stop the others, nor what raised the alert.
//
// The token expiry check reads the identity module's token and user tables directly (read-only):
// identity offers no "tokens expiring soon" service, and this is one query on the jobs leader once
// a day. What was sent is recorded in token_expiry_alerts, so each token is warned once per expiry.

import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { Clock } from '../../shared/clock.js';
import type { Mailer } from './mailer.js';
import type { TrapSender } from './snmp-traps.js';
import type { SyslogClient } from './syslog.js';

const DAY = 24 * 60 * 60 * 1000;

export interface ApplianceTransition {
  online: boolean;
  appliance: { id: number; name: string; type: string };
  reason: string;
}

export interface AlertDeps {
  db: Kysely<Database>;
  clock: Clock;
  mailer: Mailer;
  /** The SMTP section (opened): alerts go by mail only when `host` and `default_from_email` are set. */
  smtp: () => Promise<Record<string, unknown>>;
  /** The system alerting section: `token_expiry_warning_days`. */
  alerting: () => Promise<Record<string, unknown>>;
  syslog: Pick<SyslogClient, 'send'>;
  traps: TrapSender;
  log: (msg: string, err?: unknown) => void;
}

export interface Alerts {
  applianceTransition(e: ApplianceTransition): Promise<void>;
  backupFailed(message: string): Promise<void>;
  /** One pass of the daily token expiry check; returns the tokens warned about. */
  checkTokenExpiry(): Promise<{ warned: number[] }>;
}

const clean = (s: string) => s.replace(/[\r\n]+/g, ' ').slice(0, 200);

export function createAlerts(deps: AlertDeps): Alerts {
  async function mailConfigured(): Promise<{ from: string } | undefined> {
    const s = await deps.smtp();
    const from = String(s.default_from_email ?? '');
    return s.host && from ? { from } : undefined;
  }

  /** Active admins with an email address; the From address when there is none. */
  async function adminRecipients(from: string): Promise<string[]> {
    const rows = await deps.db
      .selectFrom('users')
      .select('email')
      .where('role', '=', 'admin')
      .where('is_active', '=', true)
      .where('deleted_at', 'is', null)
      .where('email', '<>', '')
      .orderBy('id')
      .execute();
    const list = [...new Set(rows.map((r) => r.email))];
    return list.length ? list : [from];
  }

  /** Sends one alert mail; false when mail is not configured or delivery failed (logged). */
  async function mail(to: string[] | undefined, subject: string, text: string): Promise<boolean> {
    try {
      const cfg = await mailConfigured();
      if (!cfg) return false;
      await deps.mailer.send({ to: to ?? (await adminRecipients(cfg.from)), subject, text });
      return true;
    } catch (err) {
      deps.log(`could not send the alert mail "${subject}"`, err);
      return false;
    }
  }

  return {
    async applianceTransition(e) {
      const { appliance: a } = e;
      const state = e.online ? 'online' : 'offline';
      const reason = clean(e.reason);
      const message = `appliance ${a.name} (${a.type}, id ${a.id}) is ${state}${reason ? `: ${reason}` : ''}`;
      void deps.syslog.send({
        severity: e.online ? 5 : 4,
        msgId: `appliance.${state}`,
        message,
        data: { appliance_id: a.id, appliance: a.name, type: a.type, reason },
      });
      await Promise.all([
        deps.traps.send(e.online ? 'applianceOnline' : 'applianceOffline', {
          message,
          applianceId: a.id,
          applianceName: a.name,
          applianceType: a.type,
        }),
        mail(
          undefined,
          `Steward: appliance ${clean(a.name)} is ${state}`,
          `The appliance ${a.name} (type ${a.type}, id ${a.id}) is ${state}.\n${reason ? `Reason: ${reason}\n` : ''}` +
            `Time: ${deps.clock.now().toISOString()}\n`,
        ),
      ]);
    },

    async backupFailed(message) {
      void deps.syslog.send({ severity: 3, msgId: 'backup.failed', message });
      await Promise.all([
        deps.traps.send('backupFailed', { message }),
        mail(undefined, 'Steward backup failed', message),
      ]);
    },

    async checkTokenExpiry() {
      const days = Number((await deps.alerting()).token_expiry_warning_days ?? 7);
      if (!(days > 0)) return { warned: [] };
      const now = deps.clock.now();
      const horizon = new Date(now.getTime() + days * DAY);
      const rows = await deps.db
        .selectFrom('api_tokens as t')
        .innerJoin('users as u', 'u.id', 't.owner_id')
        .select(['t.id', 't.name', 't.expires_at', 'u.username', 'u.email'])
        .where('t.expires_at', 'is not', null)
        .where('t.expires_at', '>', now)
        .where('t.expires_at', '<=', horizon)
        .where('t.revoked_at', 'is', null)
        .where('t.enabled', '=', true)
        .where('u.deleted_at', 'is', null)
        .where('u.is_active', '=', true)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('token_expiry_alerts as a')
                .select('a.token_id')
                .whereRef('a.token_id', '=', 't.id')
                .whereRef('a.expires_at', '=', 't.expires_at'),
            ),
          ),
        )
        .orderBy('t.expires_at')
        .limit(500)
        .execute();
      // Records of tokens long expired are of no use any more.
      await deps.db
        .deleteFrom('token_expiry_alerts')
        .where('expires_at', '<', new Date(now.getTime() - 30 * DAY))
        .execute();
      const warned: number[] = [];
      const cfg = await mailConfigured().catch(() => undefined);
      for (const r of rows) {
        const expires = new Date(r.expires_at as Date | string);
        // Claim first: two leaders in a handover must not both warn.
        const claimed = await deps.db
          .insertInto('token_expiry_alerts')
          .values({ token_id: r.id, expires_at: expires })
          .onConflict((oc) => oc.doNothing())
          .returning('token_id')
          .executeTakeFirst();
        if (!claimed) continue;
        const to = cfg ? (r.email ? [r.email] : await adminRecipients(cfg.from)) : [];
        const left = Math.max(1, Math.ceil((expires.getTime() - now.getTime()) / DAY));
        const message = `API token "${clean(r.name)}" (id ${r.id}) of ${r.username} expires on ${expires.toISOString()}`;
        void deps.syslog.send({
          severity: 4,
          msgId: 'token.expiring',
          message,
          data: { token_id: r.id, owner: r.username, expires: expires.toISOString() },
        });
        const [, mailed] = await Promise.all([
          deps.traps.send('tokenExpiring', {
            message,
            tokenId: r.id,
            tokenName: r.name,
            tokenOwner: r.username,
            tokenExpires: expires.toISOString(),
          }),
          cfg
            ? mail(
                to,
                `Steward: API token "${clean(r.name)}" expires in ${left} day${left === 1 ? '' : 's'}`,
                `${message}.\nCreate a new token (or rotate this one) before then: requests with an expired token are refused.\n`,
              )
            : Promise.resolve(true),
        ]);
        if (!mailed) {
          // Delivery failed: forget the claim so the next run tries again.
          await deps.db
            .deleteFrom('token_expiry_alerts')
            .where('token_id', '=', r.id)
            .where('expires_at', '=', expires)
            .execute();
          continue;
        }
        await deps.db
          .updateTable('token_expiry_alerts')
          .set({ recipients: to.join(', ').slice(0, 1000) })
          .where('token_id', '=', r.id)
          .where('expires_at', '=', expires)
          .execute();
        warned.push(r.id);
      }
      return { warned };
    },
  };
}
