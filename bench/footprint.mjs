// The memory of the embedded default, as `npm start` runs it (issue 18): the built `steward serve`
// on a new data directory (database created, migrations applied), then again on the same data,
// each left idle; RSS and peak RSS (VmHWM) from /proc/<pid>/status. The reference is a bare
// Fastify process (bench/reference-server.mjs), idle for the same time, so the ratio says how
// much more than an empty Node web server the manager keeps.
//   BENCH_IDLE_SECONDS (default 60) sets how long each process idles before its RSS is read.
//   Run alone: `BENCH_ONLY=footprint npm run bench`, or `node bench/footprint.mjs`.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stop } from './lib.mjs';

/** VmRSS and VmHWM (peak) of a process, in MB. */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** Starts a process, waits until it listens, idles, and returns its memory then. */
async function measure(starter, idleSeconds) {
  const began = Date.now();
  const server = await starter();
  const ready = Date.now() - began;
  const atReady = memoryOf(server.proc.pid);
  await sleep(idleSeconds * 1000);
  const idle = memoryOf(server.proc.pid);
  await stop(server.proc);
  return { readyMs: ready, atReady, idle };
}

const mb = (n) => `${n.toFixed(0)} MB`;

/** First start on a new data directory, then a restart on it, of the built checkout `dir`. */
async function measureManager(start, dir, password, idleSeconds) {
  const dataDir = mkdtempSync(join(tmpdir(), 'steward-footprint-'));
  const serve = () =>
    start(join(dir, 'bin', 'steward'), ['serve', '--host', '127.0.0.1', '--port', '0'], {
      STEWARD_DATA_DIR: dataDir,
      STEWARD_TLS: 'off',
      STEWARD_LOG_LEVEL: 'warn',
      STEWARD_ADMIN_PASSWORD: password,
    });
  try {
    return { first: await measure(serve, idleSeconds), again: await measure(serve, idleSeconds) };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function report(label, { first, again }) {
  console.log(
    `  ${label} first start:     ready in ${(first.readyMs / 1000).toFixed(1)} s, peak ${mb(first.idle.peak)} (target <= 450 MB ${first.idle.peak <= 450 ? 'OK' : 'MISSED'}), RSS idle ${mb(first.idle.rss)}`,
  );
  console.log(
    `  ${label} restart:         ready in ${(again.readyMs / 1000).toFixed(1)} s, peak ${mb(again.idle.peak)}, RSS idle ${mb(again.idle.rss)} (target <= 250 MB ${again.idle.rss <= 250 ? 'OK' : 'MISSED'})`,
  );
}

/**
 * @param {{ start: Function, root: string, password: string, baselineDir?: string }} ctx
 *   bench/run.mjs's helpers; baselineDir, another built checkout measured the same way.
 */
export async function footprintBenchmarks({ start, root, password, baselineDir }) {
  const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
  console.log(`\nMemory of the embedded default (steward serve, idle ${idleSeconds} s each)`);
  const reference = await measure(() => start(join(root, 'bench', 'reference-server.mjs'), []), idleSeconds);
  console.log(`  reference (bare Fastify):  RSS ${mb(reference.idle.rss)}, peak ${mb(reference.idle.peak)}`);
  const manager = await measureManager(start, root, password, idleSeconds);
  report('manager: ', manager);
  console.log(
    `  ratio restart idle RSS / reference: ${(manager.again.idle.rss / reference.idle.rss).toFixed(1)}`,
  );
  if (baselineDir) report('baseline:', await measureManager(start, baselineDir, password, idleSeconds));
  return { reference, manager };
}
