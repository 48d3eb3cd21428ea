// The health round's view of the fleet, kept between rounds: the poll targets (re-read only
// where poll_version moved) and each appliance's token and pinned certificate (re-read only when
// their digest changed). At 10,000 appliances this is what keeps a quiet round to one small query.

import type { HealthRepo, PolledAppliance, PollTarget } from './health.repo.js';

/** The cached poll targets are re-read in full this often, whatever the versions say. */
const FULL_READ_MS = 5 * 60_000;
/** The columns of a poll target that most appliances share (one type, one group's hashes). */
const SHARED_COLUMNS = [
  'type',
  'status',
  'release',
  'running_hash',
  'configuration_status',
  'applied_hash',
] as const;

export function createPollTargets(healthRepo: HealthRepo, intervalMs: number) {
  /**
   * The appliances polled, kept between rounds: a round asks only for the rows whose
   * poll_version moved (a trigger bumps it when a column read here changes; the columns this job
   * writes itself are updated here when its write succeeds). Re-read in full every few minutes,
   * and when the count disagrees (a row was deleted).
   */
  const targets = new Map<number, PollTarget>();
  let seenVersion = -1n;
  let fullReadAt = 0;
  let lastRoundAt = 0;
  /**
   * One copy of each value of SHARED_COLUMNS: every row read brings its own copy of
   * 'tiscale-worker' or of the group's 64-character hash; at 10,000 appliances that is ~3 MB
   * of duplicates kept between rounds. Emptied with every full read, so it stays small.
   */
  const shared = new Map<string, string>();
  function intern<T extends string | null>(v: T): T {
    if (v === null) return v;
    const one = shared.get(v);
    if (one !== undefined) return one as T;
    shared.set(v, v);
    return v;
  }
  function keep(row: PollTarget): PollTarget {
    const r = row as unknown as Record<string, unknown>;
    for (const c of SHARED_COLUMNS) if (typeof r[c] === 'string') r[c] = intern(r[c] as string);
    return row;
  }
  /** Token and pinned certificate per appliance, keyed by a digest the round reads. */
  const credentials = new Map<
    number,
    { key: string; agent_token_sealed: string | null; tls_cert_pem: string | null }
  >();

  /** The credentials of each target, from the cache or (changed, new) in one query. */
  async function loadCredentials(rows: PollTarget[]): Promise<void> {
    const missing = rows.filter((r) => credentials.get(r.id)?.key !== r.cred_key).map((r) => r.id);
    for (let i = 0; i < missing.length; i += 1000) {
      for (const c of await healthRepo.credentials(missing.slice(i, i + 1000))) {
        credentials.set(c.id, {
          key: c.cred_key,
          agent_token_sealed: c.agent_token_sealed,
          tls_cert_pem: c.tls_cert_pem,
        });
      }
    }
  }

  function agentOf(row: PollTarget) {
    const c = credentials.get(row.id);
    // The URL comes from this round's row: an appliance whose URL changed is called there.
    return {
      url: row.url,
      agent_token_sealed: c?.agent_token_sealed ?? null,
      tls_cert_pem: c?.tls_cert_pem ?? null,
    };
  }

  /**
   * Brings `targets` up to date with one small query when nothing changed; with `fresh`, reads
   * every row again (this replica takes over appliances another one polled).
   */
  async function refresh(fresh = false): Promise<PollTarget[]> {
    // The head first, then the rows: a change in between is fetched again next round, never missed.
    const head = await healthRepo.pollHead();
    const now = Date.now();
    const full = async () => {
      const rows = await healthRepo.pollTargets();
      targets.clear();
      shared.clear();
      for (const r of rows) targets.set(r.id, keep(r));
      fullReadAt = now;
    };
    // Re-read in full after a pause too: another replica may have led (and written) meanwhile.
    const paused = now - lastRoundAt > 3 * intervalMs;
    lastRoundAt = now;
    if (fresh || seenVersion < 0n || paused || head.version < seenVersion || now - fullReadAt > FULL_READ_MS)
      await full();
    else if (head.version > seenVersion) {
      for (const r of await healthRepo.pollTargets(seenVersion)) {
        if (r.authorized) targets.set(r.id, keep(r));
        else targets.delete(r.id);
      }
    }
    seenVersion = head.version;
    if (targets.size !== head.count) await full(); // a row was deleted (or one slipped in meanwhile)
    return [...targets.values()];
  }

  return {
    refresh,
    loadCredentials,
    agentOf,
    credentialCount: () => credentials.size,
    /** Forgets the credentials of appliances no longer polled (removed or deauthorized). */
    forgetCredentialsExcept(ids: Set<number>) {
      for (const id of credentials.keys()) if (!ids.has(id)) credentials.delete(id);
    },
    /** A poll the round wrote: the cached target now says what the row says. */
    written(b: PolledAppliance) {
      const t = targets.get(b.id);
      if (!t) return;
      t.online = true;
      t.status = b.status;
      t.running_hash = intern(b.hash);
      if (b.release !== null) t.release = intern(b.release);
    },
  };
}
