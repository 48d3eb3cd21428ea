// Many agents in one child process, so that a test can measure the manager's CPU alone.
// Run: node --import tsx test/helpers/agent-farm.ts <count> <base dir>
// Prints one JSON line per agent ({"url","token"}), then "READY"; stops on SIGTERM.
// Each "report" line on stdin is answered with {"requests": n}: how many HTTP requests the
// agents have received so far (the parent divides by time to get the real polling rate); each
// "unpolled <epoch ms>" line with {"unpolled": n}: how many agents got no status request since
// that time (after a replica was killed: its appliances not yet taken over).
// STEWARD_FLEET_TLS=1: the agents serve HTTPS (as they do by default), all with one self-signed
// certificate made once (each is pinned by the manager like any other).
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type RunningAgent, startAgent } from '../../src/agent/agent.js';
import { loadOrCreateTls } from '../../src/agent/tls.js';

const count = Number(process.argv[2] ?? 10);
const base = process.argv[3] ?? '/tmp/steward-agent-farm';
const tls = process.env.STEWARD_FLEET_TLS === '1';
const running: RunningAgent[] = [];
let requests = 0;
if (tls) {
  // The first agent makes the certificate; the others find it in their data directories.
  const first = join(base, 'a0');
  mkdirSync(first, { recursive: true });
  await loadOrCreateTls(first, '127.0.0.1');
  for (let i = 1; i < count; i++) {
    const dir = join(base, `a${i}`);
    mkdirSync(dir, { recursive: true });
    for (const f of ['tls.key', 'tls.crt']) copyFileSync(join(first, f), join(dir, f));
  }
}
for (let i = 0; i < count; i += 50) {
  const chunk = await Promise.all(
    Array.from({ length: Math.min(50, count - i) }, (_, j) => {
      const dataDir = join(base, `a${i + j}`);
      mkdirSync(dataDir, { recursive: true });
      return startAgent({
        type: 'tiscale-worker',
        dataDir,
        host: '127.0.0.1',
        port: 0,
        tls,
        name: `f${i + j}`,
      });
    }),
  );
  running.push(...chunk);
}
/** When each agent last got a status request (0: never). */
const lastStatus = new Array<number>(running.length).fill(0);
for (const [i, a] of running.entries()) {
  a.app.server.on('request', (req: { url?: string }) => {
    requests++;
    if (req.url?.startsWith('/agent/v1/status')) lastStatus[i] = Date.now();
  });
}
for (const a of running) process.stdout.write(`${JSON.stringify({ url: a.url, token: a.newToken })}\n`);
process.stdout.write('READY\n');
process.once('SIGTERM', () => {
  Promise.all(running.map((a) => a.close())).finally(() => process.exit(0));
});
if (!process.stdin.isTTY) {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'report') process.stdout.write(`${JSON.stringify({ requests })}\n`);
    else if (line.startsWith('unpolled ')) {
      const since = Number(line.slice('unpolled '.length));
      process.stdout.write(`${JSON.stringify({ unpolled: lastStatus.filter((t) => t < since).length })}\n`);
    }
  }
}
