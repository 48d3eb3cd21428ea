// Which live replica polls which appliance: rendezvous (highest random weight) hashing of the
// appliance id over the live replicas of the registry (ADR 0006). Every replica computes it on
// its own, from the same registry rows, at the start of every poll round; nothing is assigned or
// stored. An appliance goes to the replica with the highest score hash(appliance, replica):
// replicas joining or leaving move only the appliances they gain or had (about 1/N of the fleet),
// and the shares stay even without virtual nodes.
//
// Pure: no clock, no database. The hash is a cheap 32-bit integer mix (murmur3's finalizer), not
// a cryptographic one: the scores only need to be uniform and independent per replica, and a
// round computes replicas x appliances of them (3 x 15,000 every 10 s; the unit test's simulation,
// 50 x 1,000,000).

/** A replica as ownership sees it: its id and a 32-bit seed derived from it once. */
export interface Member {
  readonly id: string;
  readonly seed: number;
}

/** murmur3's 32-bit finalizer: a bijection on 32-bit integers with full avalanche. */
function mix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** FNV-1a over the UTF-16 code units of `s`, then mixed: a replica id's seed. */
function seedOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

export function memberOf(id: string): Member {
  return { id, seed: seedOf(id) };
}

/** The score of an appliance on a replica; the highest score owns it. */
export function score(applianceId: number, member: Member): number {
  // Two rounds: the first spreads consecutive ids, the second makes each replica's scores an
  // independent-looking permutation of the first.
  return mix32(mix32(applianceId) ^ member.seed);
}

/**
 * The id of the replica that owns `applianceId` among `members` (undefined when there are none).
 * Ties (two replicas with the same score, one in 2^32) go to the smaller id, so every replica
 * decides alike whatever order it read the rows in.
 */
export function ownerOf(applianceId: number, members: readonly Member[]): string | undefined {
  let best: Member | undefined;
  let bestScore = -1;
  for (const m of members) {
    const s = score(applianceId, m);
    if (s > bestScore || (s === bestScore && best !== undefined && m.id < best.id)) {
      best = m;
      bestScore = s;
    }
  }
  return best?.id;
}

/** Whether `self` owns each appliance, as a predicate over appliance ids. */
export function shareOf(self: string, members: readonly Member[]): (applianceId: number) => boolean {
  if (!members.some((m) => m.id === self)) return () => false;
  if (members.length === 1) return () => true;
  return (applianceId) => ownerOf(applianceId, members) === self;
}

/** A registry row as ownership reads it (cluster_replicas). */
export interface RegistryRow {
  id: string;
  last_heartbeat: Date | string;
  polls_from: Date | string | null;
}

/**
 * The replicas that poll in the round of the slot starting at `slotStart`: alive (a heartbeat
 * less than `aliveMs` before `now`, the rule GET /api/v1/cluster/ shows as `alive`) and polling
 * from this slot or an earlier one (`polls_from`: the first slot boundary after the replica
 * registered, so every replica that reads the registry in a slot sees the same joiners).
 */
export function pollingMembers(
  rows: readonly RegistryRow[],
  now: Date,
  slotStart: number,
  aliveMs: number,
): Member[] {
  return rows
    .filter((r) => now.getTime() - new Date(r.last_heartbeat).getTime() < aliveMs)
    .filter((r) => r.polls_from !== null && new Date(r.polls_from).getTime() <= slotStart)
    .map((r) => memberOf(r.id))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The start of the poll slot `at` falls in: rounds start on multiples of the interval on the wall
 * clock, so the replicas' rounds line up. `at` is nudged by a hundredth of the interval (at most
 * 50 ms) so a timer that fires a moment early still counts in the slot it was set for.
 */
export function slotStartOf(at: number, intervalMs: number): number {
  const nudge = Math.min(intervalMs / 100, 50);
  return Math.floor((at + nudge) / intervalMs) * intervalMs;
}

/**
 * The first slot boundary a replica registering at `at` may poll from: the next one at least
 * half an interval (at most a second) away, so the others have read its row before that slot.
 */
export function firstSlotAfter(at: number, intervalMs: number): number {
  const margin = Math.min(intervalMs / 2, 1000);
  return Math.ceil((at + margin) / intervalMs) * intervalMs;
}
