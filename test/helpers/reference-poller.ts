// The reference of the fleet scale measurement (test/scale/fleet-scale.test.ts): the least a
// Node process can do to poll the same agents at the same rate, measured in the same run as the
// replicas so that their CPU share can be read as a ratio (this VM's speed moves from day to day;
// a ratio from one run does not).
//
// What it does is the transport of a manager's health round and nothing else: one undici Client
// (one kept-alive connection) per agent, `GET /agent/v1/status` with the agent's token, spread
// evenly over the interval; conditional (If-None-Match with the last tag, a 304 without a body)
// except once a minute per agent, when the whole answer is read and parsed, as the manager does
// for its telemetry. No database, no ownership, no bookkeeping of state or events.
//
// Run: node --import tsx test/helpers/reference-poller.ts <poll ms> <whole answer every ms>
// Reads one JSON line per agent ({"url","token"}) on stdin, then "START"; prints "POLLING" once
// every agent was asked once (tags learnt), and on each "report" line {"polls": n, "errors": n}.
import { createInterface } from 'node:readline';
import { Client } from 'undici';

const POLL_MS = Number(process.argv[2] ?? 10_000);
/** As the manager's health round (the test passes DEFAULT_TELEMETRY_MS): a whole answer once a minute. */
const FULL_EVERY_MS = Number(process.argv[3] ?? 60_000);
const TICK_MS = 100;

interface Target {
  client: Client;
  authorization: string;
  etag: string | undefined;
  fullAt: number;
}

const targets: Target[] = [];
let polls = 0;
let errors = 0;

function poll(t: Target) {
  const now = Date.now();
  const conditional = t.etag !== undefined && now - t.fullAt < FULL_EVERY_MS;
  const headers = ['accept', 'application/json', 'authorization', t.authorization];
  if (conditional) headers.push('if-none-match', t.etag as string);
  let status = 0;
  let etag: string | undefined;
  const chunks: Buffer[] = [];
  t.client.dispatch(
    { method: 'GET', path: '/agent/v1/status', headers },
    {
      onRequestStart() {},
      onResponseStart(_controller, statusCode, responseHeaders) {
        status = statusCode;
        const tag = responseHeaders.etag;
        etag = typeof tag === 'string' ? tag : undefined;
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        polls++;
        if (status === 200) {
          JSON.parse(Buffer.concat(chunks).toString('utf8'));
          t.etag = etag;
          t.fullAt = now;
        } else if (status !== 304) errors++;
      },
      onResponseError() {
        errors++;
      },
    },
  );
}

const input = createInterface({ input: process.stdin });
let started = false;
for await (const line of input) {
  if (!started) {
    if (line !== 'START') {
      const a = JSON.parse(line) as { url: string; token: string };
      targets.push({
        client: new Client(a.url, { pipelining: 1, keepAliveTimeout: 5 * 60_000 }),
        authorization: `Token ${a.token}`,
        etag: undefined,
        fullAt: 0,
      });
      continue;
    }
    started = true;
    // Each tick polls the next slice, so that every agent is asked once per interval.
    const perTick = targets.length / (POLL_MS / TICK_MS);
    let due = 0;
    let next = 0;
    let asked = 0;
    const timer = setInterval(() => {
      due += perTick;
      for (; due >= 1; due--) {
        poll(targets[next] as Target);
        next = (next + 1) % targets.length;
        if (++asked === targets.length) process.stdout.write('POLLING\n');
      }
    }, TICK_MS);
    process.once('SIGTERM', () => {
      clearInterval(timer);
      for (const t of targets) void t.client.destroy();
      process.exit(0);
    });
    continue;
  }
  if (line === 'report') process.stdout.write(`${JSON.stringify({ polls, errors })}\n`);
}
