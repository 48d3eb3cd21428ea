// Upgrades on the agent: receive a package from the paired manager, check the payload against
// the manifest's sha256 and the manager's signature over the manifest (its key was pinned at
// pairing), then run the install step and report idle|pending|downloading|installing|error
// with a log. On success the agent reports the new release.

import { spawn } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { UpgradeRequest, type UpgradeState } from '../contract/agent-protocol.js';
import { compareReleases, manifestSigningBytes } from '../contract/fleet-fields.js';
import { type AgentState, writeFileAtomic } from './state.js';
import { accepts } from './validate.js';

const MAX_LOG = 64 * 1024;
const INSTALL_TIMEOUT_MS = 10 * 60 * 1000;

export function registerUpgradeRoutes(
  app: FastifyInstance,
  state: AgentState,
  onRelease: (release: string) => void,
) {
  const path = join(state.dataDir, 'upgrade.json');
  const load = (): UpgradeState => {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as UpgradeState;
    } catch {
      return { status: 'idle', version: null, log: '', started: null, finished: null };
    }
  };
  const save = (s: UpgradeState) => writeFileAtomic(path, JSON.stringify(s));
  const initial = load();
  if (initial.status === 'installing' || initial.status === 'downloading' || initial.status === 'pending') {
    save({
      ...initial,
      status: 'error',
      log: `${initial.log}\ninterrupted: the agent restarted during the upgrade\n`,
      finished: new Date().toISOString(),
    });
  }

  const fail = (status: number, code: string, detail: string) => ({ status, body: { code, detail } });

  app.get('/agent/v1/upgrade', async (): Promise<UpgradeState> => load());

  app.post('/agent/v1/upgrade', { bodyLimit: 256 * 1024 * 1024 }, async (request, reply) => {
    const body = request.body;
    const current = load();
    const answer = (r: { status: number; body: unknown }) => reply.code(r.status).send(r.body);
    if (current.status === 'installing' || current.status === 'downloading' || current.status === 'pending') {
      return answer(fail(409, 'conflict', `an upgrade to ${current.version} is already ${current.status}`));
    }
    // After the conflict check, as before: a second upgrade during an install is told so first.
    if (!accepts(reply, UpgradeRequest, body, 'body')) return reply;
    const m = body.manifest;
    const manager = state.secrets().manager;
    if (!manager)
      return answer(fail(409, 'conflict', 'not paired with a manager: no key to verify packages with'));
    save({
      status: 'downloading',
      version: m.version,
      log: 'package received\n',
      started: new Date().toISOString(),
      finished: null,
    });
    const payload = Buffer.from(body.payload, 'base64');
    const problems: string[] = [];
    if (m.type !== state.identity.type)
      problems.push(`package is for ${m.type}, this is ${state.identity.type}`);
    if (compareReleases(state.identity.release, m.requires) < 0) {
      problems.push(`package requires release ${m.requires}, this runs ${state.identity.release}`);
    }
    if (createHash('sha256').update(payload).digest('hex') !== m.sha256.toLowerCase()) {
      problems.push('payload does not match the manifest sha256');
    }
    let signed = false;
    try {
      const key = createPublicKey({
        key: Buffer.from(manager.public_key, 'base64'),
        format: 'der',
        type: 'spki',
      });
      signed = verify(
        null,
        Buffer.from(manifestSigningBytes(m)),
        key,
        Buffer.from(body.manager_signature, 'base64'),
      );
    } catch {
      signed = false;
    }
    if (!signed) problems.push('manifest signature does not verify with the paired manager key');
    if (problems.length > 0) {
      const log = `package received\nrefused: ${problems.join('; ')}\n`;
      save({
        status: 'error',
        version: m.version,
        log,
        started: new Date().toISOString(),
        finished: new Date().toISOString(),
      });
      state.addEvent({
        kind: 'upgrade.failed',
        severity: 'error',
        message: `upgrade to ${m.version} refused: ${problems.join('; ')}`,
      });
      return answer(fail(400, 'validation_failed', problems.join('; ')));
    }
    const dir = join(state.dataDir, 'upgrades');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `install-${m.version.replace(/[^A-Za-z0-9._-]/g, '_')}`);
    writeFileAtomic(file, payload, 0o700);
    const started = new Date().toISOString();
    let log = 'package received\nsha256 and signature verified\ninstalling\n';
    save({ status: 'installing', version: m.version, log, started, finished: null });
    const child = spawn(file, [], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: INSTALL_TIMEOUT_MS,
      env: { ...process.env, STEWARD_UPGRADE_VERSION: m.version, STEWARD_AGENT_DATA: state.dataDir },
    });
    const append = (d: Buffer) => {
      log = (log + d.toString()).slice(-MAX_LOG);
      save({ status: 'installing', version: m.version, log, started, finished: null });
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    const finish = (ok: boolean, why: string) => {
      const finished = new Date().toISOString();
      if (ok) {
        onRelease(m.version);
        save({ status: 'idle', version: m.version, log: `${log}${why}\n`, started, finished });
        state.addEvent({ kind: 'upgrade.finished', severity: 'info', message: `upgraded to ${m.version}` });
      } else {
        save({ status: 'error', version: m.version, log: `${log}${why}\n`, started, finished });
        state.addEvent({
          kind: 'upgrade.failed',
          severity: 'error',
          message: `upgrade to ${m.version} failed: ${why}`,
        });
      }
    };
    child.on('error', (err) => finish(false, `install step could not run: ${err.message}`));
    child.on('close', (code, signal) =>
      code === 0
        ? finish(true, 'install step finished')
        : finish(false, `install step failed (${signal ?? `exit ${code}`})`),
    );
    return reply.code(202).send(load());
  });
}
