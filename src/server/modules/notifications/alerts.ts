// Alerts: appliance offline/online, API tokens about to expire, backup failed. Each goes out on
// every channel the admin configured: mail (SMTP section), an SNMPv2c trap (SNMP section's trap
// sink) and a syslog message (system alerting section). A channel that fails is logged and does
// not stop the others, nor what raised the alert.
// The SQL (admin recipients, the token expiry check and its claims) is in alerts.repo.ts.

import type { Clock } from '../../shared/clock.js';
import type { AlertsRepo } from './alerts.repo.js';
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
  repo: AlertsRepo;
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
    const list = [...new Set(await deps.repo.adminEmails())];
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
      const rows = await deps.repo.expiringTokens(now, horizon);
      // Records of tokens long expired are of no use any more.
      await deps.repo.forgetWarningsBefore(new Date(now.getTime() - 30 * DAY));
      const warned: number[] = [];
      const cfg = await mailConfigured().catch((err: unknown) => {
        deps.log('could not read the SMTP settings; token expiry warnings go out without mail', err);
        return undefined;
      });
      for (const r of rows) {
        const expires = new Date(r.expires_at as Date | string);
        // Claim first: two leaders in a handover must not both warn.
        if (!(await deps.repo.claimWarning(r.id, expires))) continue;
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
          await deps.repo.releaseWarning(r.id, expires);
          continue;
        }
        await deps.repo.recordRecipients(r.id, expires, to.join(', ').slice(0, 1000));
        warned.push(r.id);
      }
      return { warned };
    },
  };
}
