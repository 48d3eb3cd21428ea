// Fleet ownership (rendezvous hashing): each appliance has exactly one owner among the members,
// whatever order they are read in; a membership change moves only what the joiner gains or the
// leaver had; and a simulation of 50 replicas and 1,000,000 appliances: every share within
// +-10 % of the mean, and a replica leaving or joining moves about 1/N of the fleet.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  firstSlotAfter,
  type Member,
  memberOf,
  ownerOf,
  pollingMembers,
  score,
  shareOf,
  slotStartOf,
} from './cluster.ownership.js';

const replicaIds = fc.uniqueArray(fc.uuid(), { minLength: 1, maxLength: 12 });
const applianceId = fc.integer({ min: 1, max: 2 ** 31 - 1 });

describe('ownerOf / shareOf', () => {
  it('gives every appliance exactly one owner among the members', () => {
    fc.assert(
      fc.property(replicaIds, applianceId, (ids, id) => {
        const members = ids.map(memberOf);
        const owners = ids.filter((r) => shareOf(r, members)(id));
        expect(owners).toEqual([ownerOf(id, members)]);
      }),
    );
  });

  it('decides alike whatever order the registry rows were read in', () => {
    fc.assert(
      fc.property(
        replicaIds.chain((ids) =>
          fc.tuple(fc.constant(ids), fc.shuffledSubarray(ids, { minLength: ids.length })),
        ),
        applianceId,
        ([ids, shuffled], id) => {
          expect(ownerOf(id, shuffled.map(memberOf))).toBe(ownerOf(id, ids.map(memberOf)));
        },
      ),
    );
  });

  it('moves an appliance only to a joiner, and only away from a leaver', () => {
    fc.assert(
      fc.property(replicaIds, fc.uuid(), applianceId, (ids, joiner, id) => {
        fc.pre(!ids.includes(joiner));
        const before = ownerOf(id, ids.map(memberOf));
        const after = ownerOf(id, [...ids, joiner].map(memberOf));
        expect(after === before || after === joiner).toBe(true);
        // The way back: the joiner leaves, and only what it owned moves.
        expect(ownerOf(id, ids.map(memberOf))).toBe(before);
      }),
    );
  });

  it('owns nothing when this replica is not a member, everything when it is the only one', () => {
    const self = memberOf('self');
    const other = memberOf('other');
    expect(shareOf('self', [other])(7)).toBe(false);
    expect(shareOf('self', [self])(7)).toBe(true);
    expect(ownerOf(7, [])).toBeUndefined();
  });
});

describe('pollingMembers', () => {
  const now = new Date('2026-12-06T12:00:10Z');
  const slot = Date.parse('2026-12-06T12:00:10Z');
  const row = (id: string, heartbeatAgoMs: number, pollsFrom: number | null) => ({
    id,
    last_heartbeat: new Date(now.getTime() - heartbeatAgoMs),
    polls_from: pollsFrom === null ? null : new Date(pollsFrom),
  });

  it('counts live replicas that poll from this slot or before, sorted by id', () => {
    const members = pollingMembers(
      [
        row('c', 1000, slot), // joined for this slot
        row('a', 0, slot - 10_000),
        row('dead', 15_000, slot - 60_000), // silent for the whole bound: gone
        row('late', 0, slot + 10_000), // registered during this slot: from the next one
        row('old-release', 0, null), // no polls_from: a replica that does not poll
        row('b', 14_999, slot - 60_000),
      ],
      now,
      slot,
      15_000,
    );
    expect(members.map((m) => m.id)).toEqual(['a', 'b', 'c']);
  });
});

describe('slots', () => {
  it('puts a tick in the slot its timer was set for, even if it fires a moment early', () => {
    expect(slotStartOf(20_000, 10_000)).toBe(20_000);
    expect(slotStartOf(19_990, 10_000)).toBe(20_000);
    expect(slotStartOf(29_000, 10_000)).toBe(20_000);
  });

  it('lets a new replica poll from a boundary the others reach after reading its row', () => {
    expect(firstSlotAfter(20_000, 10_000)).toBe(30_000);
    expect(firstSlotAfter(28_999, 10_000)).toBe(30_000);
    expect(firstSlotAfter(29_500, 10_000)).toBe(40_000); // under a second before the boundary
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 20, max: 600_000 }),
        (at, every) => {
          const from = firstSlotAfter(at, every);
          expect(from % every).toBe(0);
          expect(from - at).toBeGreaterThanOrEqual(Math.min(every / 2, 1000));
          expect(from - at).toBeLessThanOrEqual(every + Math.min(every / 2, 1000));
        },
      ),
    );
  });
});

describe('simulation: 50 replicas, 1,000,000 appliances', () => {
  const N = 50;
  const APPLIANCES = 1_000_000;
  const members: Member[] = Array.from({ length: N }, (_, i) => memberOf(`replica-${i}-${i * 7919}`));

  /** The owner (index into `ms`) and its score of every appliance id 1..APPLIANCES. */
  function assign(ms: readonly Member[]) {
    const owner = new Uint16Array(APPLIANCES);
    const best = new Uint32Array(APPLIANCES);
    for (let a = 0; a < APPLIANCES; a++) {
      let o = 0;
      let b = -1;
      for (let r = 0; r < ms.length; r++) {
        const s = score(a + 1, ms[r] as Member);
        if (s > b) {
          b = s;
          o = r;
        }
      }
      owner[a] = o;
      best[a] = b;
    }
    return { owner, best };
  }

  it('balances within +-10 % and moves about 1/N on a membership change', () => {
    const { owner, best } = assign(members);
    const counts = new Array<number>(N).fill(0);
    for (const o of owner) counts[o] = (counts[o] as number) + 1;
    const mean = APPLIANCES / N;
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(mean * 0.9);
    expect(Math.max(...counts)).toBeLessThanOrEqual(mean * 1.1);

    // A replica joins: only the appliances it now wins move, all to it.
    const joiner = memberOf('replica-joining');
    let movedIn = 0;
    for (let a = 0; a < APPLIANCES; a++) if (score(a + 1, joiner) > (best[a] as number)) movedIn++;
    const expectJoin = APPLIANCES / (N + 1);
    expect(Math.abs(movedIn - expectJoin)).toBeLessThan(expectJoin * 0.1);

    // Replica 0 leaves: only its appliances move (to the best of the others); the rest stay.
    const rest = members.slice(1);
    let movedOut = 0;
    for (let a = 0; a < APPLIANCES; a++) {
      if (owner[a] !== 0) continue;
      movedOut++;
      const next = ownerOf(a + 1, rest);
      expect(next).not.toBe(members[0]?.id);
    }
    expect(movedOut).toBe(counts[0]);
    expect(Math.abs(movedOut - mean)).toBeLessThan(mean * 0.1);
    // Spot check with the full computation that an appliance not owned by replica 0 keeps its owner.
    for (let a = 0; a < APPLIANCES; a += 9973) {
      if (owner[a] === 0) continue;
      expect(ownerOf(a + 1, rest)).toBe(members[owner[a] as number]?.id);
    }
    console.log(
      `ownership: ${N} replicas x ${APPLIANCES} appliances: shares ${Math.min(...counts)}..${Math.max(...counts)} (mean ${mean}); ` +
        `a joiner takes ${movedIn} (${((movedIn / APPLIANCES) * 100).toFixed(2)} %), a leaver hands over ${movedOut}`,
    );
  });
});
