import type { Insertable } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { TokenActivityTable } from '../../db/schema.js';
import { systemClock } from '../../shared/clock.js';
import { createAuthenticator } from './authenticator.js';
import type { IdentityRepo } from './identity.repo.js';

type Row = Insertable<TokenActivityTable>;

/** A repository whose activity inserts wait until the test lets each one finish. */
function slowRepo() {
  const written: Row[] = [];
  const pending: { rows: Row[]; finish: (fail?: Error) => void }[] = [];
  const repo = {
    recordTokenUse: async () => {},
    recordScopeUse: async () => {},
    insertActivity: (rows: Row[]) =>
      new Promise<void>((resolve, reject) => {
        pending.push({
          rows,
          finish: (fail) => {
            if (fail) return reject(fail);
            written.push(...rows);
            resolve();
          },
        });
      }),
  } as unknown as IdentityRepo;
  return { repo, written, pending };
}

const row = (n: number): Row => ({
  token_id: 1,
  at: new Date(),
  method: 'GET',
  path: `/api/v1/r${n}/`,
  status: 200,
  ip: '127.0.0.1',
  request_id: String(n),
});

const ticks = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

function authenticatorWith(repo: IdentityRepo) {
  return createAuthenticator({
    repo,
    clock: systemClock,
    sessionIdleSeconds: 1800,
    authSettings: () => ({
      allowTokensInUrl: false,
      defaultRateLimitPerMinute: null,
      sessionRateLimitPerMinute: 600,
    }),
  });
}

describe('authenticator flush', () => {
  it("a reader's flush waits for the timer's flush still writing, so it sees every buffered row", async () => {
    const { repo, written, pending } = slowRepo();
    const auth = authenticatorWith(repo);
    auth.recordActivity(1, () => row(1));
    auth.recordActivity(1, () => row(2));
    const timers = auth.flush(); // took both rows; its insert has not finished
    await ticks();
    expect(pending).toHaveLength(1);

    let readerDone = false;
    const reader = auth.flush().then(() => {
      readerDone = true;
    });
    await ticks();
    expect(readerDone).toBe(false);

    pending[0]?.finish();
    await timers;
    await reader;
    expect(readerDone).toBe(true);
    expect(written.map((r) => r.request_id)).toEqual(['1', '2']);
  });

  it('a failed flush reaches its own caller and does not stop the next one', async () => {
    const { repo, written, pending } = slowRepo();
    const auth = authenticatorWith(repo);
    auth.recordActivity(1, () => row(1));
    const first = auth.flush();
    await ticks();
    auth.recordActivity(1, () => row(2));
    const second = auth.flush();
    pending[0]?.finish(new Error('database gone'));
    await expect(first).rejects.toThrow('database gone');
    await ticks();
    expect(pending).toHaveLength(2);
    pending[1]?.finish();
    await second;
    expect(written.map((r) => r.request_id)).toEqual(['2']);
  });

  it('while a write hangs, later flushes share one waiting flush instead of piling up', async () => {
    const { repo, written, pending } = slowRepo();
    const auth = authenticatorWith(repo);
    auth.recordActivity(1, () => row(1));
    const first = auth.flush();
    await ticks();
    const later: Promise<void>[] = [];
    for (let i = 2; i <= 6; i++) {
      auth.recordActivity(1, () => row(i));
      later.push(auth.flush());
    }
    expect(new Set(later).size).toBe(1);
    pending[0]?.finish();
    await first;
    await ticks();
    expect(pending).toHaveLength(2);
    pending[1]?.finish();
    await Promise.all(later);
    expect(written.map((r) => r.request_id)).toEqual(['1', '2', '3', '4', '5', '6']);
  });
});
