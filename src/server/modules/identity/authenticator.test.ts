import type { Insertable } from 'kysely';
import { describe, expect, it } from 'vitest';
import { recordingLogger } from '../../../../test/helpers/log-recorder.js';
import { issueSecret } from '../../../contract/token-codec.js';
import type { TokenActivityTable } from '../../db/schema.js';
import { createManualClock, systemClock } from '../../shared/clock.js';
import { createAuthenticator } from './authenticator.js';
import type { IdentityRepo, SessionRow, UserRow } from './identity.repo.js';

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

describe('authenticator session touch', () => {
  it("logs a session's last use it could not store, and still answers the request", async () => {
    const clock = createManualClock(new Date('2026-03-01T12:00:00Z'));
    const secret = issueSecret('session');
    const session = {
      id: 41,
      user_id: 5,
      digest: secret.digest,
      created_at: new Date('2026-03-01T11:00:00Z'),
      // Seen a minute ago: older than the touch interval, well within the idle limit.
      last_seen_at: new Date('2026-03-01T11:59:00Z'),
      expires_at: new Date('2026-03-02T00:00:00Z'),
      ended_at: null,
    } as SessionRow;
    const user = { id: 5, username: 'ops', role: 'operator', is_active: true, group_id: null } as UserRow;
    const repo = {
      findSessionByDigest: async () => session,
      findUserById: async () => user,
      touchSession: async () => {
        throw new Error('database is read-only');
      },
    } as unknown as IdentityRepo;
    const { log, lines } = recordingLogger();
    const auth = createAuthenticator({
      repo,
      clock,
      sessionIdleSeconds: 1800,
      authSettings: () => ({
        allowTokensInUrl: false,
        defaultRateLimitPerMinute: null,
        sessionRateLimitPerMinute: 600,
      }),
      log,
    });
    const principal = await auth.authenticator.authenticate(
      { source: 'cookie', value: secret.token },
      { ip: '127.0.0.1', userAgent: undefined, requestId: 'r1' },
    );
    expect(principal).toMatchObject({ userId: 5, method: 'session', sessionId: 41 });
    await expect.poll(() => lines.length).toBe(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      msg: "could not store a session's last use; its idle clock is behind",
      obj: { sessionId: 41 },
    });
    expect((lines[0]?.obj.err as Error | undefined)?.message).toBe('database is read-only');
  });
});
