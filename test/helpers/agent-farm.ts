// Many agents in one child process, so that a test can measure the manager's CPU alone.
// Run: node --import tsx test/helpers/agent-farm.ts <count> <base dir>
// Prints one JSON line per agent ({"url","token"}), then "READY"; stops on SIGTERM.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type RunningAgent, startAgent } from '../../src/agent/agent.js';

const count = Number(process.argv[2] ?? 10);
const base = process.argv[3] ?? '/tmp/steward-agent-farm';
const running: RunningAgent[] = [];
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
        tls: false,
        name: `f${i + j}`,
      });
    }),
  );
  running.push(...chunk);
}
for (const a of running) process.stdout.write(`${JSON.stringify({ url: a.url, token: a.newToken })}\n`);
process.stdout.write('READY\n');
process.once('SIGTERM', () => {
  Promise.all(running.map((a) => a.close())).finally(() => process.exit(0));
});
