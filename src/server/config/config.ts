// The manager's configuration: one table of settings, read from the environment (STEWARD_*) or
// from command-line flags, parsed once into a frozen, typed Config. Every bad value is collected
// so the admin sees all of them in one message instead of fixing them one start at a time.
// This is the only place that reads process.env (see DESIGN.md).

import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_APPLIANCE_NETWORKS, parseNetworks } from '../shared/address-policy.js';
import { DEFAULT_HEAP_GROWTH_PERCENT } from '../shared/heap-growth.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** A postgres:// URL, or undefined for the embedded PGlite database under dataDir. */
  readonly databaseUrl: string | undefined;
  readonly tls: boolean;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** Used once, when the database has no admin user yet. Never logged. */
  readonly adminPassword: string | undefined;
  readonly logLevel: LogLevel;
  /** Idle timeout and absolute lifetime of login sessions, in seconds. */
  readonly sessionIdleSeconds: number;
  readonly sessionMaxSeconds: number;
  /** Largest accepted request body for JSON and forms, in bytes (uploads have their own limit). */
  readonly bodyLimitBytes: number;
  /** Key for secrets encrypted at rest (64 hex chars); when unset a key file in dataDir is used. */
  readonly secretKey: string | undefined;
  /** Requests per minute from one IP without a valid credential (login included). */
  readonly ipRateLimitPerMinute: number;
  /** Requests per minute one user's login sessions may make together. */
  readonly sessionRateLimitPerMinute: number;
  /** Executable given host-level settings (NTP, SSH daemon, SNMP) as JSON; unset: stored only. */
  readonly applyHook: string | undefined;
  /** PEM file with the licence vendor's Ed25519 public key; unset: every licence is INVALID. */
  readonly licensePublicKeyFile: string | undefined;
  /** Seconds between two health-polling rounds of the fleet (run by the jobs leader). */
  readonly healthPollSeconds: number;
  /** Cap on V8's heap growth between full collections, in percent (0: V8's own heuristics). */
  readonly heapGrowthPercent: number;
  /** Largest file accepted by chunked uploads and POST /api/v1/files/, in bytes. */
  readonly uploadMaxFileBytes: number;
  /** Largest chunk of a chunked upload, in bytes. */
  readonly uploadMaxChunkBytes: number;
  /** Bytes of stored files one user may own (POST /api/v1/files/). */
  readonly fileQuotaBytes: number;
  /**
   * IP addresses and CIDR networks the manager may call appliances in, while the network settings'
   * appliance_networks is empty; undefined: DEFAULT_APPLIANCE_NETWORKS.
   */
  readonly applianceNetworks: string | undefined;
  /** Passphrase for `steward backup create|restore|verify` (read by those commands only). */
  readonly backupPassphrase: string | undefined;
}

interface Setting {
  /** Property in Config. */
  key: keyof Config;
  env: string;
  flag: string;
  description: string;
  default?: string;
  secret?: boolean;
  parse: (raw: string) => { value: unknown } | { error: string };
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function integer(min: number, max: number) {
  return (raw: string) => {
    if (!/^\d+$/.test(raw.trim())) return { error: `must be a whole number from ${min} to ${max}` };
    const n = Number(raw);
    return n >= min && n <= max ? { value: n } : { error: `must be a whole number from ${min} to ${max}` };
  };
}

const optionalText = (raw: string) => ({ value: raw === '' ? undefined : raw });

export const SETTINGS: readonly Setting[] = [
  {
    key: 'host',
    env: 'STEWARD_HOST',
    flag: '--host',
    description: 'Address to listen on',
    default: '0.0.0.0',
    parse: (raw) => (raw.trim() ? { value: raw.trim() } : { error: 'must not be empty' }),
  },
  {
    key: 'port',
    env: 'STEWARD_PORT',
    flag: '--port',
    description: 'TCP port to listen on (0 picks a free port)',
    default: '8443',
    parse: integer(0, 65535),
  },
  {
    key: 'dataDir',
    env: 'STEWARD_DATA_DIR',
    flag: '--data-dir',
    description:
      'Directory for everything the manager keeps on disk (database, certificates, uploads, backups)',
    default: './data',
    parse: (raw) => (raw.trim() ? { value: resolve(raw.trim()) } : { error: 'must not be empty' }),
  },
  {
    key: 'databaseUrl',
    env: 'STEWARD_DATABASE_URL',
    flag: '--database-url',
    description:
      'postgres:// URL of a PostgreSQL 14+ server; unset uses the embedded database in the data directory',
    secret: true,
    parse: (raw) => {
      if (raw === '') return { value: undefined };
      try {
        const url = new URL(raw);
        if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
          return { error: 'must be a postgres:// or postgresql:// URL' };
        }
        return { value: raw };
      } catch {
        return { error: 'must be a postgres:// or postgresql:// URL' };
      }
    },
  },
  {
    key: 'tls',
    env: 'STEWARD_TLS',
    flag: '--tls',
    description:
      'on: HTTPS (self-signed certificate in the data directory unless STEWARD_TLS_CERT/KEY are set); off: plain HTTP',
    default: 'on',
    parse: (raw) => {
      const v = raw.trim().toLowerCase();
      if (['on', 'true', '1', 'yes'].includes(v)) return { value: true };
      if (['off', 'false', '0', 'no'].includes(v)) return { value: false };
      return { error: 'must be on or off' };
    },
  },
  {
    key: 'tlsCert',
    env: 'STEWARD_TLS_CERT',
    flag: '--tls-cert',
    description: 'PEM certificate file to serve (with STEWARD_TLS_KEY)',
    parse: optionalText,
  },
  {
    key: 'tlsKey',
    env: 'STEWARD_TLS_KEY',
    flag: '--tls-key',
    description: 'PEM private key file for STEWARD_TLS_CERT',
    parse: optionalText,
  },
  {
    key: 'adminPassword',
    env: 'STEWARD_ADMIN_PASSWORD',
    flag: '--admin-password',
    description:
      'Password of the built-in admin user, used only on the very first start; unset prints a random one once',
    secret: true,
    parse: optionalText,
  },
  {
    key: 'logLevel',
    env: 'STEWARD_LOG_LEVEL',
    flag: '--log-level',
    description: `Log level: ${LOG_LEVELS.join(', ')}`,
    default: 'info',
    parse: (raw) =>
      (LOG_LEVELS as readonly string[]).includes(raw.trim())
        ? { value: raw.trim() }
        : { error: `must be one of ${LOG_LEVELS.join(', ')}` },
  },
  {
    key: 'sessionIdleSeconds',
    env: 'STEWARD_SESSION_IDLE_SECONDS',
    flag: '--session-idle-seconds',
    description: 'A login session ends after this many seconds without a request',
    default: '1800',
    parse: integer(60, 7 * 24 * 3600),
  },
  {
    key: 'sessionMaxSeconds',
    env: 'STEWARD_SESSION_MAX_SECONDS',
    flag: '--session-max-seconds',
    description: 'A login session ends this many seconds after the login, active or not',
    default: '43200',
    parse: integer(60, 30 * 24 * 3600),
  },
  {
    key: 'bodyLimitBytes',
    env: 'STEWARD_BODY_LIMIT_BYTES',
    flag: '--body-limit-bytes',
    description: 'Largest JSON or form request body accepted, in bytes',
    default: '1048576',
    parse: integer(1024, 64 * 1024 * 1024),
  },
  {
    key: 'secretKey',
    env: 'STEWARD_SECRET_KEY',
    flag: '--secret-key',
    description:
      'AES-256 key (64 hex characters) for secrets stored encrypted; unset keeps a key file in the data directory',
    secret: true,
    parse: (raw) => {
      if (raw === '') return { value: undefined };
      return /^[0-9a-fA-F]{64}$/.test(raw)
        ? { value: raw.toLowerCase() }
        : { error: 'must be 64 hexadecimal characters' };
    },
  },
  {
    key: 'ipRateLimitPerMinute',
    env: 'STEWARD_IP_RATE_LIMIT',
    flag: '--ip-rate-limit',
    description: 'Requests per minute one IP may make without a valid credential (login included)',
    default: '120',
    parse: integer(1, 1_000_000),
  },
  {
    key: 'sessionRateLimitPerMinute',
    env: 'STEWARD_SESSION_RATE_LIMIT',
    flag: '--session-rate-limit',
    description: "Requests per minute one user's login sessions may make together",
    default: '1200',
    parse: integer(1, 1_000_000),
  },
  {
    key: 'applyHook',
    env: 'STEWARD_APPLY_HOOK',
    flag: '--apply-hook',
    description:
      'Executable run with host-level settings (NTP, SSH daemon, SNMP) as JSON on stdin; unset: they are only stored',
    parse: (raw) =>
      raw === ''
        ? { value: undefined }
        : isAbsolute(raw)
          ? { value: raw }
          : { error: 'must be an absolute path' },
  },
  {
    key: 'licensePublicKeyFile',
    env: 'STEWARD_LICENSE_PUBLIC_KEY_FILE',
    flag: '--license-public-key-file',
    description:
      "PEM file with the licence vendor's Ed25519 public key (`steward license keygen` makes a pair)",
    parse: optionalText,
  },
  {
    key: 'healthPollSeconds',
    env: 'STEWARD_HEALTH_POLL_SECONDS',
    flag: '--health-poll-seconds',
    description:
      'Seconds between two rounds of appliance health polling (one replica polls, the jobs leader)',
    default: '10',
    parse: integer(1, 3600),
  },
  {
    key: 'heapGrowthPercent',
    env: 'STEWARD_HEAP_GROWTH_PERCENT',
    flag: '--heap-growth-percent',
    description:
      "How far V8's heap may grow past what survived the last full collection, in percent (keeps the memory of a manager polling a large fleet near its live size); 0: V8's own heuristics",
    default: String(DEFAULT_HEAP_GROWTH_PERCENT),
    parse: integer(0, 1000),
  },
  {
    key: 'uploadMaxFileBytes',
    env: 'STEWARD_UPLOAD_MAX_FILE_BYTES',
    flag: '--upload-max-file-bytes',
    description:
      'Largest file accepted by chunked uploads (/api/v1/system/upload/) and /api/v1/files/, in bytes; one byte more is a 413',
    default: String(4 * 1024 ** 3),
    parse: integer(1024, 1024 ** 4),
  },
  {
    key: 'uploadMaxChunkBytes',
    env: 'STEWARD_UPLOAD_MAX_CHUNK_BYTES',
    flag: '--upload-max-chunk-bytes',
    description: 'Largest chunk of a chunked upload, in bytes',
    default: String(64 * 1024 ** 2),
    parse: integer(1024, 1024 ** 3),
  },
  {
    key: 'fileQuotaBytes',
    env: 'STEWARD_FILE_QUOTA_BYTES',
    flag: '--file-quota-bytes',
    description: 'Bytes of stored files one user may own (/api/v1/files/); an upload past it is refused',
    default: String(10 * 1024 ** 3),
    parse: integer(0, 1024 ** 5),
  },
  {
    key: 'applianceNetworks',
    env: 'STEWARD_APPLIANCE_NETWORKS',
    flag: '--appliance-networks',
    description:
      'IP addresses and CIDR networks (comma-separated) the manager may call appliances in, unless the network ' +
      `settings' appliance_networks says otherwise; unset: ${DEFAULT_APPLIANCE_NETWORKS}. Link-local and cloud ` +
      'metadata addresses are refused unless an entry inside them is listed',
    parse: (raw) => {
      if (raw.trim() === '') return { value: undefined };
      const { networks, problems } = parseNetworks(raw);
      if (problems.length > 0) return { error: problems.join('; ') };
      return networks.length > 0 ? { value: raw.trim() } : { error: 'must list at least one network' };
    },
  },
  {
    key: 'backupPassphrase',
    env: 'STEWARD_BACKUP_PASSPHRASE',
    flag: '--backup-passphrase',
    description:
      'Backup passphrase for `steward backup create|restore|verify` (or --passphrase-file / --passphrase-stdin)',
    secret: true,
    parse: (raw) =>
      raw === ''
        ? { value: undefined }
        : raw.length >= 12
          ? { value: raw }
          : { error: 'must have at least 12 characters' },
  },
];

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Builds the Config from environment variables, overridden by flags (already parsed by the CLI,
 * keyed by the camel-case Config property). Throws ConfigError naming every bad value.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  flags: Partial<Record<keyof Config, string>> = {},
): Config {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const fromFlag = flags[s.key];
    const fromEnv = env[s.env];
    const raw = fromFlag ?? fromEnv ?? s.default;
    const source = fromFlag !== undefined ? s.flag : s.env;
    if (raw === undefined) {
      out[s.key] = undefined;
      continue;
    }
    const parsed = s.parse(raw);
    if ('error' in parsed) {
      // Secret values are never echoed back, even when they are wrong.
      const shown = s.secret ? '' : ` (got "${raw}")`;
      problems.push(`${source}: ${parsed.error}${shown}`);
    } else {
      out[s.key] = parsed.value;
    }
  }
  if ((out.tlsCert === undefined) !== (out.tlsKey === undefined)) {
    problems.push('STEWARD_TLS_CERT and STEWARD_TLS_KEY: set both or neither');
  }
  if (
    typeof out.sessionIdleSeconds === 'number' &&
    typeof out.sessionMaxSeconds === 'number' &&
    out.sessionIdleSeconds > out.sessionMaxSeconds
  ) {
    problems.push('STEWARD_SESSION_IDLE_SECONDS: must not exceed STEWARD_SESSION_MAX_SECONDS');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (typeof out.tlsCert === 'string' && !isAbsolute(out.tlsCert)) out.tlsCert = resolve(out.tlsCert);
  if (typeof out.tlsKey === 'string' && !isAbsolute(out.tlsKey)) out.tlsKey = resolve(out.tlsKey);
  if (typeof out.licensePublicKeyFile === 'string')
    out.licensePublicKeyFile = resolve(out.licensePublicKeyFile);
  return Object.freeze(out as unknown as Config);
}

/** The settings table as text, for `steward serve --help` and the README. */
export function describeSettings(): string {
  return SETTINGS.map(
    (s) =>
      `  ${s.flag.padEnd(24)} ${s.env.padEnd(30)} ${s.description}${s.default ? ` (default: ${s.default})` : ''}`,
  ).join('\n');
}
