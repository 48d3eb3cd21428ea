// SQL of the alerts: who gets an alert mail, and the token expiry check. The check reads the
// identity module's token and user tables directly (read-only): identity offers no "tokens
// expiring soon" service, and this is one query on the jobs leader once a day. What was sent is
// recorded in token_expiry_alerts, so each token is warned once per expiry.

import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export function createAlertsRepo(db: Kysely<Database>) {
  return {
    /** Email addresses of active admins that have one, by user id. */
    async adminEmails(): Promise<string[]> {
      const rows = await db
        .selectFrom('users')
        .select('email')
        .where('role', '=', 'admin')
        .where('is_active', '=', true)
        .where('deleted_at', 'is', null)
        .where('email', '<>', '')
        .orderBy('id')
        .execute();
      return rows.map((r) => r.email);
    },

    /**
     * Enabled, unrevoked tokens of active users that expire after `now` and by `horizon`, and
     * were not warned about for this expiry yet; soonest first, at most 500.
     */
    expiringTokens(now: Date, horizon: Date) {
      return db
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
    },

    /** Forgets the warnings of expiries before `before`. */
    async forgetWarningsBefore(before: Date): Promise<void> {
      await db.deleteFrom('token_expiry_alerts').where('expires_at', '<', before).execute();
    },

    /** Claims the warning of one token's expiry; false when another run claimed it already. */
    async claimWarning(tokenId: number, expires: Date): Promise<boolean> {
      const claimed = await db
        .insertInto('token_expiry_alerts')
        .values({ token_id: tokenId, expires_at: expires })
        .onConflict((oc) => oc.doNothing())
        .returning('token_id')
        .executeTakeFirst();
      return claimed !== undefined;
    },

    /** Gives a claim up (delivery failed), so the next run tries again. */
    async releaseWarning(tokenId: number, expires: Date): Promise<void> {
      await db
        .deleteFrom('token_expiry_alerts')
        .where('token_id', '=', tokenId)
        .where('expires_at', '=', expires)
        .execute();
    },

    /** Records who a claimed warning went to. */
    async recordRecipients(tokenId: number, expires: Date, recipients: string): Promise<void> {
      await db
        .updateTable('token_expiry_alerts')
        .set({ recipients })
        .where('token_id', '=', tokenId)
        .where('expires_at', '=', expires)
        .execute();
    },
  };
}

export type AlertsRepo = ReturnType<typeof createAlertsRepo>;
