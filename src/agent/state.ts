// The agent's persistent state, all in its --data directory as small JSON files. Every write is
// atomic (temp file, fsync, rename, fsync of the directory), so a crash or power loss leaves
// either the old file or the new one, never half of each: the agent must come back on its last
// applied configuration.

import { randomUUID } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { AgentEvent, AgentIdentity, ConnectorState } from '../contract/agent-protocol.js';
import type { ApplianceType, ConfigContent, ConnectorName } from '../contract/fleet-fields.js';
import { digestSecret, issueSecret } from '../contract/token-codec.js';

export interface AgentSecrets {
  /** SHA-256 of the agent's own API token (the one printed once; Spectra Analyze style). */
  api_token_digest: string;
  /** The paired manager: its public key fingerprint and the digest of the token it was given. */
  manager: {
    fingerprint: string;
    public_key: string;
    url: string | null;
    token_digest: string;
    paired_at: string;
  } | null;
}

export interface AgentConfig {
  revision: number | null;
  applied_at: string | null;
  content: ConfigContent;
}

export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600, durable = true): void {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (durable) fsyncDir(path);
}

function fsyncDir(path: string): void {
  try {
    const dirFd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  }
}

let tmpCounter = 0;

/** The same, without blocking the event loop on fsync (the applied configuration uses it). */
export async function writeFileAtomicAsync(
  path: string,
  data: string | Buffer,
  mode = 0o600,
  durable = true,
): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.${++tmpCounter}.tmp`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  if (durable) {
    try {
      const dir = await open(dirname(path), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch {
      // As above: the rename is atomic even where a directory cannot be synced.
    }
  }
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
}

const MAX_EVENTS = 1000;

export interface InitOptions {
  dataDir: string;
  type: ApplianceType;
  name?: string | undefined;
  /** Absent: keep the stored release (it changes with upgrades); first start uses the default. */
  release?: string | undefined;
  defaultRelease: string;
}

/** What the state needs of the agent's logger (Fastify's, pino-shaped) for writes made in the background. */
export interface AgentLog {
  warn(obj: object, msg: string): void;
}

export interface AgentState {
  readonly dataDir: string;
  /** Where failures of background writes (the event log) go: the agent server's logger. */
  logTo(log: AgentLog): void;
  identity: AgentIdentity;
  secrets(): AgentSecrets;
  saveSecrets(s: AgentSecrets): void;
  /** Re-read on every call: an admin may edit config.json locally (the manager then sees `mismatch`). */
  config(): AgentConfig;
  saveConfig(c: AgentConfig): Promise<void>;
  connectors(): Partial<Record<ConnectorName, ConnectorState>>;
  saveConnectors(c: Partial<Record<ConnectorName, ConnectorState>>): void;
  events(afterId: number, limit: number): AgentEvent[];
  lastEventId(): number;
  addEvent(e: Omit<AgentEvent, 'id' | 'at'>): AgentEvent;
  /** Waits until the event log is on disk (shutdown, tests). */
  flush(): Promise<void>;
  configPath: string;
  /** Records the release after an upgrade. */
  setRelease(release: string): void;
}

/**
 * Opens (or on first start creates) the state. `newToken` is the API token when one was just
 * made: the caller prints it once and it is never stored in clear.
 */
export function openAgentState(opts: InitOptions): { state: AgentState; newToken: string | undefined } {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const p = (f: string) => join(opts.dataDir, f);
  let identity = readJson<AgentIdentity>(p('identity.json'));
  if (!identity) {
    identity = {
      uuid: randomUUID(),
      name: opts.name ?? osHostname(),
      hostname: osHostname(),
      type: opts.type,
      release: opts.release ?? opts.defaultRelease,
      created: new Date().toISOString(),
    };
    writeFileAtomic(p('identity.json'), JSON.stringify(identity, null, 2));
  } else {
    let changed = false;
    if (identity.type !== opts.type) {
      throw new Error(`this data directory belongs to a ${identity.type} agent, not ${opts.type}`);
    }
    if (opts.name && identity.name !== opts.name) {
      identity.name = opts.name;
      changed = true;
    }
    if (opts.release && identity.release !== opts.release) {
      identity.release = opts.release;
      changed = true;
    }
    if (changed) writeFileAtomic(p('identity.json'), JSON.stringify(identity, null, 2));
  }
  let newToken: string | undefined;
  let secretsCache = readJson<AgentSecrets>(p('secrets.json'));
  if (!secretsCache) {
    const issued = issueSecret('appliance');
    newToken = issued.token;
    secretsCache = { api_token_digest: issued.digest, manager: null };
    writeFileAtomic(p('secrets.json'), JSON.stringify(secretsCache, null, 2));
  }
  let secretsMtime = statSync(p('secrets.json')).mtimeMs;

  let events = readJson<AgentEvent[]>(p('events.json')) ?? [];
  // The event log is written in the background, coalescing bursts, and without fsync: it is
  // informational (the manager copies it), so losing the last events to a power cut is
  // acceptable where blocking an apply on a second fsync is not. Still atomic (rename).
  let eventsWriting: Promise<void> | undefined;
  let eventsDirty = false;
  // Events are added once the server runs, and buildAgentServer hands its logger over first.
  let log: AgentLog = { warn() {} };
  const persistEvents = () => {
    eventsDirty = true;
    if (eventsWriting) return;
    eventsWriting = (async () => {
      while (eventsDirty) {
        eventsDirty = false;
        await writeFileAtomicAsync(p('events.json'), JSON.stringify(events), 0o600, false).catch(
          (err: unknown) =>
            log.warn(
              { err },
              'could not write the event log (events.json); the events stay in memory until the next write',
            ),
        );
      }
      eventsWriting = undefined;
    })();
  };
  const id = identity;
  const state: AgentState = {
    dataDir: opts.dataDir,
    logTo(next) {
      log = next;
    },
    identity: id,
    configPath: p('config.json'),
    setRelease(release) {
      id.release = release;
      writeFileAtomic(p('identity.json'), JSON.stringify(id, null, 2));
    },
    secrets() {
      // `steward agent rotate-token` writes the file from another process; pick that up.
      const m = statSync(p('secrets.json')).mtimeMs;
      if (m !== secretsMtime) {
        secretsCache = readJson<AgentSecrets>(p('secrets.json')) ?? secretsCache;
        secretsMtime = m;
      }
      return secretsCache as AgentSecrets;
    },
    saveSecrets(s) {
      writeFileAtomic(p('secrets.json'), JSON.stringify(s, null, 2));
      secretsCache = s;
      secretsMtime = statSync(p('secrets.json')).mtimeMs;
    },
    config() {
      return readJson<AgentConfig>(p('config.json')) ?? { revision: null, applied_at: null, content: {} };
    },
    saveConfig(c) {
      return writeFileAtomicAsync(p('config.json'), JSON.stringify(c, null, 2));
    },
    connectors() {
      return readJson<Partial<Record<ConnectorName, ConnectorState>>>(p('connectors.json')) ?? {};
    },
    saveConnectors(c) {
      writeFileAtomic(p('connectors.json'), JSON.stringify(c, null, 2));
    },
    events(afterId, limit) {
      return events.filter((e) => e.id > afterId).slice(0, limit);
    },
    lastEventId() {
      return events.at(-1)?.id ?? 0;
    },
    addEvent(e) {
      const event: AgentEvent = { id: (events.at(-1)?.id ?? 0) + 1, at: new Date().toISOString(), ...e };
      events = [...events, event].slice(-MAX_EVENTS);
      persistEvents();
      return event;
    },
    async flush() {
      while (eventsWriting) await eventsWriting;
    },
  };
  return { state, newToken };
}

/** Makes a new API token for the agent in `dataDir`; the old one stops working at once. */
export function rotateAgentToken(dataDir: string): string {
  const path = join(dataDir, 'secrets.json');
  const current = readJson<AgentSecrets>(path);
  if (!current) throw new Error(`no agent state in ${dataDir} (start the agent once first)`);
  const issued = issueSecret('appliance');
  writeFileAtomic(path, JSON.stringify({ ...current, api_token_digest: issued.digest }, null, 2));
  return issued.token;
}

export { digestSecret };
