// A manager in a process of its own, for the fleet scale measurement: the parent test reads this
// process's CPU time and memory from /proc, so nothing of vitest or of the agents is counted.
// Run: node --import tsx test/helpers/agent-scale-manager.ts <agents.json> <poll interval ms>
// agents.json is [{"url": ...}, ...] (as test/helpers/agent-farm.ts prints them). Registers and
// authorizes every agent through the API, starts the background jobs, prints "POLLING".
// Then answers each "report" line on stdin with one JSON line (how many are online and offline,
// and process.memoryUsage() to show where the memory is), and exits
// on "stop" or SIGTERM.
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createInterface } from 'node:readline';
import v8 from 'node:v8';
import { ROLE_PERMISSIONS } from '../../src/contract/permissions.js';
import { DEFAULT_HEAP_GROWTH_PERCENT, limitHeapGrowth } from '../../src/server/shared/heap-growth.js';
import { createTestContext } from './app.js';

const agents = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as { url: string }[];
const intervalMs = Number(process.argv[3] ?? 1000);

// This process stands in for `steward serve`, which caps V8's heap growth before it builds the app.
limitHeapGrowth(DEFAULT_HEAP_GROWTH_PERCENT);
const m = await createTestContext({ jobIntervals: { fleetHealth: intervalMs } });
const res = await m.app.inject({
  method: 'POST',
  url: '/api/v1/tokens/',
  headers: await m.adminHeaders(),
  payload: { name: 'scale', rate_limit_per_minute: 1_000_000, scopes: [...ROLE_PERMISSIONS.admin] },
});
const h = { authorization: `Token ${res.json().token}` };
for (let i = 0; i < agents.length; i += 20) {
  await Promise.all(
    agents.slice(i, i + 20).map(async (a, j) => {
      const c = await m.app.inject({
        method: 'POST',
        url: '/api/v1/appliances/create/',
        headers: h,
        payload: { name: `f${i + j}`, type: 'worker', url: a.url },
      });
      const r = await m.app.inject({
        method: 'GET',
        url: `/api/v1/appliances/${c.json().id}/authorization/`,
        headers: h,
      });
      if (r.statusCode !== 200) throw new Error(r.body);
    }),
  );
}
await m.app.startJobs();
process.stdout.write('POLLING\n');

async function stop() {
  await m.close();
  process.exit(0);
}
process.once('SIGTERM', () => void stop());
const session = new Session();
session.connect();
let profileFile: string | undefined;
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'report') {
    // Started with --expose-gc: the heap figures below are what is live, not what awaits collection.
    const gc = (globalThis as { gc?: () => void }).gc;
    const before = process.memoryUsage();
    gc?.();
    const count = async (online: boolean) =>
      Number(
        (
          await m.db
            .selectFrom('appliances')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('online', '=', online)
            .executeTakeFirstOrThrow()
        ).n,
      );
    process.stdout.write(
      `${JSON.stringify({ online: await count(true), offline: await count(false), memory: before, afterGc: gc ? process.memoryUsage() : null, heap: v8.getHeapStatistics(), spaces: v8.getHeapSpaceStatistics() })}\n`,
    );
  } else if (line.startsWith('profile ')) {
    profileFile = line.slice('profile '.length);
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    process.stdout.write('PROFILING\n');
  } else if (line === 'profile-stop' && profileFile) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(profileFile, JSON.stringify(profile));
    process.stdout.write('PROFILED\n');
  } else if (line === 'stop') {
    await stop();
  }
}
