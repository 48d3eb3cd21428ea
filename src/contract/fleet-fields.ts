// The configuration field catalog, shared by the manager (which validates what admins save) and
// the agent (which validates what it is asked to apply and reports per field). One table: each
// field's type, bounds, default, whether it is secret, and which appliance types and releases
// support it. Names follow the seed: `<section>__<setting>`.
//
// Past ~400 lines on purpose: half of it is the catalog table, and the checks that read it
// (release support, value checks, canonical JSON of content) sit beside it, so a field and the
// rule that checks it are read together on both sides.

export const APPLIANCE_TYPES = ['a1000', 'tiscale-worker', 'tiscale-hub'] as const;
export type ApplianceType = (typeof APPLIANCE_TYPES)[number];

/** Product names accepted as aliases of the legacy type names. */
const TYPE_ALIASES: Record<string, ApplianceType> = {
  a1000: 'a1000',
  analyze: 'a1000',
  'tiscale-worker': 'tiscale-worker',
  worker: 'tiscale-worker',
  'tiscale-hub': 'tiscale-hub',
  hub: 'tiscale-hub',
};

export function normalizeApplianceType(value: string): ApplianceType | undefined {
  const v = value.trim().toLowerCase();
  // Own keys only: `__proto__` or `constructor` from a URL must not find Object.prototype's.
  return Object.hasOwn(TYPE_ALIASES, v) ? TYPE_ALIASES[v] : undefined;
}

/**
 * The package type of the manager's own release. Such a package lives in the same store as the
 * appliance packages but is never sent to an appliance: the host's apply hook installs it.
 */
export const MANAGER_PACKAGE_TYPE = 'manager';
/** What a package in the store is for: an appliance type, or the manager itself. */
export type PackageType = ApplianceType | typeof MANAGER_PACKAGE_TYPE;

/** An appliance type (or its product name) or `manager`, normalized; undefined when unknown. */
export function normalizePackageType(value: string): PackageType | undefined {
  const v = value.trim().toLowerCase();
  return v === MANAGER_PACKAGE_TYPE ? MANAGER_PACKAGE_TYPE : normalizeApplianceType(v);
}

export type FieldType = 'boolean' | 'integer' | 'number' | 'string' | 'enum' | 'list';
export type ListItemKind = 'ip' | 'cidr' | 'domain' | 'host' | 'text';

export interface FieldDef {
  name: string;
  type: FieldType;
  description: string;
  default: unknown;
  min?: number;
  max?: number;
  maxLength?: number;
  values?: readonly string[];
  item?: ListItemKind;
  maxItems?: number;
  secret?: boolean;
  /** Appliance types that support the field. */
  types: readonly ApplianceType[];
  /** First release that supports the field (dotted numbers). */
  since?: string;
}

const ALL: readonly ApplianceType[] = APPLIANCE_TYPES;
const WORKER_HUB: readonly ApplianceType[] = ['tiscale-worker', 'tiscale-hub'];
const WORKER: readonly ApplianceType[] = ['tiscale-worker'];
const ANALYZE_WORKER: readonly ApplianceType[] = ['a1000', 'tiscale-worker'];

type Spec = Omit<FieldDef, 'name'>;
const bool = (description: string, def: boolean, types = ALL, extra: Partial<Spec> = {}): Spec => ({
  type: 'boolean',
  description,
  default: def,
  types,
  ...extra,
});
const int = (
  description: string,
  def: number | null,
  min: number,
  max: number,
  types = ALL,
  extra: Partial<Spec> = {},
): Spec => ({
  type: 'integer',
  description,
  default: def,
  min,
  max,
  types,
  ...extra,
});
const str = (
  description: string,
  def: string,
  maxLength = 255,
  types = ALL,
  extra: Partial<Spec> = {},
): Spec => ({
  type: 'string',
  description,
  default: def,
  maxLength,
  types,
  ...extra,
});
const secret = (description: string, types = ALL, extra: Partial<Spec> = {}): Spec => ({
  type: 'string',
  description,
  default: '',
  maxLength: 255,
  secret: true,
  types,
  ...extra,
});
const oneOf = (
  description: string,
  values: readonly string[],
  def: string,
  types = ALL,
  extra: Partial<Spec> = {},
): Spec => ({
  type: 'enum',
  description,
  values,
  default: def,
  types,
  ...extra,
});
const list = (
  description: string,
  item: ListItemKind,
  maxItems = 1000,
  types = ALL,
  extra: Partial<Spec> = {},
): Spec => ({
  type: 'list',
  description,
  item,
  maxItems,
  default: [],
  types,
  ...extra,
});

const SPECS: Record<string, Spec> = {
  // SNMP (v2c), as in the seed's SNMP section.
  snmp__enable: bool('Enable the SNMP agent', false),
  snmp__community: str('SNMP v2c community string', 'public', 64),
  snmp__trap_sink_enable: bool('Send SNMP traps', false),
  snmp__trap_community: str('Community string for traps', 'public', 64),
  snmp__trap_sink: str('Trap receiver address', '', 255),
  snmp__trap_avg_load_threshold_1min: int(
    'Trap when the 1-minute load (% of CPU threads) exceeds this',
    90,
    1,
    100,
  ),
  snmp__trap_avg_load_threshold_5min: int(
    'Trap when the 5-minute load (% of CPU threads) exceeds this',
    80,
    1,
    100,
  ),
  snmp__trap_avg_load_threshold_15min: int(
    'Trap when the 15-minute load (% of CPU threads) exceeds this',
    70,
    1,
    100,
  ),
  snmp__trap_memory_threshold: int('Trap when used memory (%) exceeds this', 90, 1, 100),
  snmp__trap_disk_threshold: int('Trap when used disk (%) exceeds this', 90, 1, 100),
  // Spectra Intelligence (cloud), every field the seed shows.
  cloud__enabled: bool('Use Spectra Intelligence', false),
  cloud__url: str('Spectra Intelligence URL', 'https://appliance-api.reversinglabs.com', 255),
  cloud__user: str('Spectra Intelligence user name', '', 128),
  cloud__token: secret('Spectra Intelligence password'),
  cloud__timeout: int('Request timeout in seconds', 60, 1, 1000),
  cloud__proxy_enabled: bool('Reach Spectra Intelligence through a proxy', false),
  cloud__proxy_host: str('Proxy host', '', 255),
  cloud__proxy_port: int('Proxy port', null, 1, 65535),
  cloud__proxy_user: str('Proxy user', '', 128),
  cloud__proxy_password: secret('Proxy password'),
  cloud__max_fetch_file_size: int('Largest file to fetch from the cloud, in MiB', 500, 1, 10240),
  // SMTP.
  smtp__enable: bool('Send email notifications', false),
  smtp__host: str('SMTP relay server', '', 255),
  smtp__port: int('SMTP port', 25, 1, 65535),
  smtp__user: str('SMTP user', '', 128),
  smtp__password: secret('SMTP password'),
  smtp__use_tls: bool('Use TLS to the relay', false),
  smtp__default_from_email: str('Sender address', 'steward@localhost', 254),
  // Syslog / system alerting.
  syslog__enable: bool('Forward logs to syslog', false),
  syslog__host: str('Syslog server', '', 255),
  syslog__port: int('Syslog port', 514, 1, 65535),
  syslog__transport_protocol: oneOf('Syslog transport', ['TCP', 'UDP'], 'TCP'),
  syslog__enable_audit_logs: bool('Forward audit logs too', false),
  // Time.
  ntp__enable: bool('Synchronise time with NTP', true),
  ntp__servers: list('NTP servers', 'host', 10),
  ntp__timezone: str('Time zone (IANA name)', 'UTC', 64),
  // Analysis limits.
  analysis__max_file_size: int('Largest file accepted for analysis, in MiB', 200, 1, 10240, ANALYZE_WORKER),
  analysis__timeout: int('Analysis time limit per file, in seconds', 300, 10, 86400, ANALYZE_WORKER),
  analysis__max_concurrent: int('Files analysed in parallel', 4, 1, 256, WORKER),
  analysis__queue_size: int('Largest analysis queue', 1000, 1, 1000000, WORKER_HUB),
  analysis__keep_samples_hours: int('How long to keep analysed files, in hours', 24, 0, 8760, ANALYZE_WORKER),
  analysis__priority: oneOf('Default analysis priority', ['low', 'normal', 'high'], 'normal', ANALYZE_WORKER),
  analysis__report_format: oneOf('Report format', ['json', 'xml'], 'json', WORKER),
  analysis__strip_metadata: bool('Strip file metadata from reports', false, WORKER, { since: '5.0.0' }),
  // Unpacking limits.
  unpacking__enable: bool('Unpack archives and containers', true, ANALYZE_WORKER),
  unpacking__max_depth: int('Deepest recursion when unpacking', 17, 1, 100, ANALYZE_WORKER),
  unpacking__max_files: int('Most files extracted from one sample', 100000, 1, 10000000, ANALYZE_WORKER),
  unpacking__max_size: int('Largest total unpacked size, in MiB', 4096, 1, 102400, ANALYZE_WORKER),
  unpacking__password_list: list('Passwords to try on protected archives', 'text', 200, ANALYZE_WORKER),
  unpacking__ratio_limit: int(
    'Highest compression ratio before a file is treated as a bomb',
    1000,
    1,
    100000,
    ANALYZE_WORKER,
  ),
  // YARA synchronisation.
  yara__sync_enable: bool('Receive YARA rulesets from the manager', false, ANALYZE_WORKER),
  yara__sync_interval: int('YARA sync interval, in minutes', 60, 1, 1440, ANALYZE_WORKER),
  yara__max_rulesets: int('Most rulesets to keep', 1000, 1, 100000, ANALYZE_WORKER),
  // Destination lists (Cloudlock style): where results may be sent.
  destinations__allowed_ips: list('IP addresses results may be sent to', 'ip', 1000, WORKER_HUB),
  destinations__allowed_cidrs: list('Networks (CIDR) results may be sent to', 'cidr', 1000, WORKER_HUB),
  destinations__allowed_domains: list('Domains results may be sent to', 'domain', 1000, WORKER_HUB),
  destinations__blocked_domains: list('Domains results must never be sent to', 'domain', 1000, WORKER_HUB),
  // Central logging.
  central_logging__enable: bool('Send logs to the manager', false),
  central_logging__retention_period: int('Log retention, in days', 7, 1, 3650),
  // Hub load balancing.
  hub__max_connections: int('Most client connections the hub accepts', 1000, 1, 100000, ['tiscale-hub']),
  hub__worker_timeout: int('Worker response time limit, in seconds', 60, 1, 3600, ['tiscale-hub']),
  hub__balance_method: oneOf('Load balancing method', ['roundrobin', 'leastconn'], 'roundrobin', [
    'tiscale-hub',
  ]),
  // Web interface / sessions on the appliance.
  web__session_timeout: int('Web session idle timeout, in minutes', 30, 1, 1440),
  web__banner: str('Login banner text', '', 2000),
  // Webhooks and retention.
  callback__enable: bool('Send analysis results to a callback URL', false, WORKER),
  callback__url: str('Callback URL', '', 2000, WORKER),
  callback__token: secret('Bearer token sent to the callback URL', WORKER),
  retention__reports_days: int('Keep analysis reports this many days', 30, 1, 3650, ANALYZE_WORKER),
};

export const FIELD_CATALOG: readonly FieldDef[] = Object.entries(SPECS).map(([name, spec]) => ({
  name,
  ...spec,
}));
const BY_NAME = new Map(FIELD_CATALOG.map((f) => [f.name, f]));

export function fieldDef(name: string): FieldDef | undefined {
  return BY_NAME.get(name);
}

/** The sections of the catalog (the part of a name before `__`), as an admin would call them. */
export const FIELD_SECTIONS: Readonly<Record<string, string>> = {
  snmp: 'SNMP',
  cloud: 'Spectra Intelligence (cloud)',
  smtp: 'Email (SMTP)',
  syslog: 'Syslog',
  ntp: 'Time (NTP)',
  analysis: 'Analysis limits',
  unpacking: 'Unpacking',
  yara: 'YARA synchronisation',
  destinations: 'Where results may be sent',
  central_logging: 'Central logging',
  hub: 'Hub load balancing',
  web: 'Web interface',
  callback: 'Result callback',
  retention: 'Retention',
};

/** A field's section, in words (`cloud__timeout` -> `Spectra Intelligence (cloud)`). */
export function fieldSection(name: string): string {
  const prefix = name.split('__')[0] ?? name;
  return FIELD_SECTIONS[prefix] ?? prefix;
}

/** A field's label for people: its catalog description, or the name when it is not in the catalog. */
export function fieldLabel(name: string): string {
  return BY_NAME.get(name)?.description ?? name;
}

/** The help under a field: its range or form, its default, the appliances that take it. */
export function fieldHelp(def: FieldDef): string {
  const parts: string[] = [];
  if (def.type === 'integer' || def.type === 'number') {
    if (def.min !== undefined && def.max !== undefined) parts.push(`${def.min} to ${def.max}`);
  } else if (def.type === 'list') {
    parts.push(`up to ${def.maxItems ?? 1000} items, one per entry`);
  } else if (def.type === 'string' && def.maxLength !== undefined && !def.secret) {
    parts.push(`up to ${def.maxLength} characters`);
  }
  if (def.secret) parts.push('write-only: stored, never shown');
  else if (
    def.default !== null &&
    def.default !== '' &&
    !(Array.isArray(def.default) && def.default.length === 0)
  )
    parts.push(
      `default ${typeof def.default === 'boolean' ? (def.default ? 'on' : 'off') : String(def.default)}`,
    );
  if (def.types.length < APPLIANCE_TYPES.length) parts.push(`only on ${def.types.join(', ')}`);
  if (def.since) parts.push(`release ${def.since} or newer`);
  return parts.join(' · ');
}

export type ConfigContent = Record<string, unknown>;

/** Compares dotted release numbers; missing parts count as 0. */
export function compareReleases(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Why an appliance of this type and release cannot take the field, or undefined when it can. */
export function unsupportedReason(def: FieldDef, type: ApplianceType, release: string): string | undefined {
  if (!def.types.includes(type)) return `not supported on ${type}`;
  if (def.since && compareReleases(release, def.since) < 0) return `requires release ${def.since} or newer`;
  return undefined;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:]+$/;
const DOMAIN = /^(?=.{1,253}$)(\*\.)?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$/;
const HOST =
  /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

export function isIp(v: string): boolean {
  return IPV4.test(v) || (v.includes(':') && IPV6.test(v) && v.length <= 39);
}

function checkItem(kind: ListItemKind, v: string): string | undefined {
  switch (kind) {
    case 'ip':
      return isIp(v) ? undefined : `"${v}" is not an IP address`;
    case 'cidr': {
      const [addr, bits, ...rest] = v.split('/');
      const n = Number(bits);
      const max = addr?.includes(':') ? 128 : 32;
      if (rest.length === 0 && addr && isIp(addr) && /^\d{1,3}$/.test(bits ?? '') && n <= max)
        return undefined;
      return `"${v}" is not a network in CIDR notation`;
    }
    case 'domain':
      return DOMAIN.test(v) ? undefined : `"${v}" is not a domain name`;
    case 'host':
      return HOST.test(v) || isIp(v) ? undefined : `"${v}" is not a host name or IP address`;
    case 'text':
      return v.length <= 255 ? undefined : 'items must be at most 255 characters';
  }
}

/** Checks one value against its field; null means "back to the default" and is always valid. */
export function checkValue(def: FieldDef, value: unknown): string | undefined {
  if (value === null) return undefined;
  switch (def.type) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number';
      if (def.type === 'integer' && !Number.isInteger(value)) return 'must be a whole number';
      // Out of range is refused with the range, never clamped: the admin sees what was wrong.
      const range =
        def.min !== undefined && def.max !== undefined
          ? `must be between ${def.min} and ${def.max}`
          : def.min !== undefined
            ? `must be at least ${def.min}`
            : `must be at most ${def.max}`;
      if (def.min !== undefined && value < def.min) return range;
      if (def.max !== undefined && value > def.max) return range;
      return undefined;
    }
    case 'string':
      if (typeof value !== 'string') return 'must be a string';
      if (def.maxLength !== undefined && value.length > def.maxLength)
        return `must be at most ${def.maxLength} characters`;
      return undefined;
    case 'enum':
      return typeof value === 'string' && def.values?.includes(value)
        ? undefined
        : `must be one of ${def.values?.join(', ')}`;
    case 'list': {
      if (!Array.isArray(value)) return 'must be a list';
      if (def.maxItems !== undefined && value.length > def.maxItems)
        return `must have at most ${def.maxItems} items`;
      for (const item of value) {
        if (typeof item !== 'string') return 'items must be strings';
        const bad = checkItem(def.item ?? 'text', item);
        if (bad) return bad;
      }
      return undefined;
    }
  }
}

export interface ContentError {
  field: string;
  message: string;
}

/**
 * Validates content against the catalog. `<secret>_set` keys (the seed shows `cloud__token_set`)
 * are accepted and ignored: they are what a GET shows and may be sent back unchanged.
 */
export function validateContent(content: ConfigContent): ContentError[] {
  const errors: ContentError[] = [];
  for (const [key, value] of Object.entries(content)) {
    const def = BY_NAME.get(key);
    if (!def) {
      const base = key.endsWith('_set') ? BY_NAME.get(key.slice(0, -4)) : undefined;
      if (base?.secret) {
        if (typeof value !== 'boolean') errors.push({ field: key, message: 'must be true or false' });
        continue;
      }
      errors.push({ field: key, message: 'unknown configuration field' });
      continue;
    }
    const bad = checkValue(def, value);
    if (bad) errors.push({ field: key, message: bad });
  }
  return errors;
}

/** Deterministic JSON (sorted keys), so equal configurations hash equally everywhere. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export const CONNECTOR_NAMES = [
  'abusebox',
  'azure-data-lake',
  'fileshare',
  'graph-api',
  's3',
  'share-file',
  'smtp',
] as const;
export type ConnectorName = (typeof CONNECTOR_NAMES)[number];

/**
 * The bytes a manager signs (Ed25519) to pair with an agent. Binding the agent's uuid and a fresh
 * timestamp and nonce means a captured pairing request cannot be replayed to another agent, or
 * later to the same one.
 */
export function pairingMessage(agentUuid: string, timestamp: string, nonce: string): string {
  return `steward-pair\n${agentUuid}\n${timestamp}\n${nonce}`;
}

/** The bytes signed over a manifest: canonical JSON, so key order cannot change the signature. */
export function manifestSigningBytes(m: {
  type: string;
  version: string;
  requires: string;
  sha256: string;
}): string {
  return canonicalJson({
    type: m.type,
    version: m.version,
    requires: m.requires,
    sha256: m.sha256.toLowerCase(),
  });
}
