// The manager's settings sections: one schema, defaults and examples per seed path. Each
// section is one JSON document in the settings table under `system.<name>`. Secret fields are
// sealed with the SecretBox and never returned: a GET shows `<field>_set: true` instead.
//
// Past ~400 lines on purpose: a catalog, almost all of it schema declarations, one section after
// another in the order of the seed's paths; cut apart, a section would be harder to find.

import { type TObject, type TSchema, Type } from 'typebox';
import { StrictObject } from '../../http/schemas.js';

/** How a section takes effect after a committed change. */
export type Effect = 'runtime' | 'host';

export interface SectionDef {
  name: string;
  path: string;
  summary: string;
  description: string;
  /** The POST body: every field optional (a POST changes only what it names). */
  body: TObject;
  defaults: Record<string, unknown>;
  /** Fields stored sealed and shown as `<field>_set`. */
  secrets: readonly string[];
  example: Record<string, unknown>;
  /** `host` sections are handed to the apply hook after each change (NTP, SSH daemon). */
  effect: Effect;
  /** Values the manager derives itself: returned by GET, not accepted in the body. */
  readOnly?: Record<string, TSchema>;
  /** Body fields that trigger an action and are not stored, so never returned. */
  actions?: readonly string[];
}

const Opt = <T extends TSchema>(s: T) => Type.Optional(s);
const Bool = (description: string) => Opt(Type.Boolean({ description }));
const Str = (description: string, maxLength = 1000) => Opt(Type.String({ maxLength, description }));
const Port = (description: string) => Opt(Type.Integer({ minimum: 1, maximum: 65535, description }));
const Pct = (description: string) => Opt(Type.Number({ minimum: 0, maximum: 100, description }));
const SecretSet = (field: string) =>
  Opt(
    Type.Boolean({
      description: `Ignored on input (read-only): whether ${field} is stored. Send \`${field}: ""\` to clear it.`,
    }),
  );

export const SECTIONS: readonly SectionDef[] = [
  {
    name: 'network',
    path: '/api/v1/config/network/',
    summary: 'Network settings',
    description:
      '`base_url` is used for absolute links (pagination `next`). `allowed_hosts` (one per line) restricts the ' +
      'Host header; loopback always stays allowed. `certificate_path` / `certificate_key_path` name files uploaded ' +
      "through `/api/v1/system/upload/`: `<flowIdentifier>.<flowFilename>`, or that file's absolute path in the " +
      "manager's uploads directory; any other path is a 400 naming the field (no other file of the host can be read). " +
      'They may name the same file when it holds both. The certificate (chain, leaf first) must be unexpired PEM and ' +
      'the key an unencrypted PEM key that matches it; the pair is checked before anything changes, and served ' +
      'without a restart. `reset_ssl: true` alone goes back to a new self-signed certificate; sent with the two ' +
      'paths (as in the seed) the named pair is installed. ' +
      'Without `base_url`, list links ' +
      '(`next`, `Link`) are absolute only for a Host listed in `allowed_hosts`, path-only otherwise. ' +
      '`appliance_networks` lists the IP addresses and networks (CIDR) the manager may call appliances in; ' +
      'empty means STEWARD_APPLIANCE_NETWORKS, or by default loopback, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 ' +
      'and fc00::/7. Link-local (169.254.0.0/16, fe80::/10) and cloud metadata addresses (169.254.169.254, ' +
      'fd00:ec2::254, ...) are refused unless an entry inside them is listed (see docs/fleet.md).',
    body: StrictObject({
      base_url: Str('Application URL, e.g. `https://c1000.example.com` (a bare host means https)', 300),
      allowed_hosts: Str(
        'Allowed Host names or IP addresses, separated by `\\n`; `*.example.com` matches subdomains',
        10000,
      ),
      appliance_networks: Str(
        'IP addresses and CIDR networks the manager may call appliances in, separated by `\\n` or commas; ' +
          'empty: STEWARD_APPLIANCE_NETWORKS or the default (loopback and private ranges)',
        10000,
      ),
      certificate_path: Str(
        'An uploaded certificate (PEM, chain leaf first): `<flowIdentifier>.<flowFilename>` or its absolute path in the uploads directory',
        400,
      ),
      certificate_key_path: Str(
        'The uploaded private key (unencrypted PEM) that matches the certificate; may name the same file',
        400,
      ),
      reset_ssl: Bool(
        'Alone: replace the served certificate with a new self-signed one. With the two paths: install them',
      ),
    }),
    defaults: {
      base_url: '',
      allowed_hosts: '',
      appliance_networks: '',
      certificate_path: '',
      certificate_key_path: '',
      certificate_subject: '',
      certificate_not_after: '',
    },
    secrets: [],
    example: { base_url: 'https://c1000.example.com', allowed_hosts: 'c1000.example.com\n192.0.2.10' },
    effect: 'runtime',
    readOnly: {
      certificate_subject: Opt(
        Type.String({ description: 'Subject of the uploaded certificate being served (empty: self-signed)' }),
      ),
      certificate_not_after: Opt(
        Type.String({ description: 'Expiry of the uploaded certificate being served (empty: self-signed)' }),
      ),
    },
    actions: ['reset_ssl'],
  },
  {
    name: 'ntp',
    path: '/api/v1/config/ntp/',
    summary: 'Network time synchronisation',
    description: 'Host-level: stored, then handed to the apply hook (see docs/administration.md).',
    body: StrictObject({
      enable: Bool('Synchronise the clock'),
      servers: Str('NTP servers separated by `\\n`', 4000),
    }),
    defaults: { enable: false, servers: '' },
    secrets: [],
    example: { enable: true, servers: 'ntp1.example.com\nntp2.example.com' },
    effect: 'host',
  },
  {
    name: 'directory',
    path: '/api/v1/config/directory/',
    summary: 'Directory (LDAP / OIDC) login',
    description:
      'Federated login settings. Bind password and client secret are write-only. With `ldap_enable`, users that are ' +
      'not local log in through `POST /api/v1/auth/token/` with their directory password (search-then-bind); their ' +
      'role comes from the group mapping. Their password is never stored.',
    body: StrictObject({
      ldap_enable: Bool('Allow LDAP logins'),
      ldap_url: Str('`ldap://` or `ldaps://` URL of the directory server', 500),
      ldap_bind_dn: Str('DN used to search for users', 500),
      ldap_bind_password: Str('Bind password (write-only)', 500),
      ldap_bind_password_set: SecretSet('ldap_bind_password'),
      ldap_user_search_base: Str('Base DN of user entries', 500),
      ldap_user_filter: Str('Search filter; `%(user)s` is the login name', 500),
      ldap_start_tls: Bool('Use StartTLS on ldap://'),
      ldap_group_attribute: Str(
        'Attribute of the user entry that lists its groups (DNs), e.g. `memberOf`',
        100,
      ),
      ldap_admin_group: Str('DN of the group whose members log in as admins', 500),
      ldap_operator_group: Str('DN of the group whose members log in as operators', 500),
      ldap_viewer_group: Str('DN of the group whose members log in as viewers', 500),
      ldap_require_group: Bool(
        'Refuse directory users who are in none of the three groups (else: `default_role`)',
      ),
      oidc_enable: Bool('Allow OpenID Connect logins'),
      oidc_issuer: Str('Issuer URL (https)', 500),
      oidc_client_id: Str('Client id', 300),
      oidc_client_secret: Str('Client secret (write-only)', 500),
      oidc_client_secret_set: SecretSet('oidc_client_secret'),
      default_role: Opt(
        Type.Union([Type.Literal('admin'), Type.Literal('operator'), Type.Literal('viewer')], {
          description: 'Role of users created on first directory login',
        }),
      ),
    }),
    defaults: {
      ldap_enable: false,
      ldap_url: '',
      ldap_bind_dn: '',
      ldap_user_search_base: '',
      ldap_user_filter: '(uid=%(user)s)',
      ldap_start_tls: false,
      ldap_group_attribute: 'memberOf',
      ldap_admin_group: '',
      ldap_operator_group: '',
      ldap_viewer_group: '',
      ldap_require_group: false,
      oidc_enable: false,
      oidc_issuer: '',
      oidc_client_id: '',
      default_role: 'viewer',
    },
    secrets: ['ldap_bind_password', 'oidc_client_secret'],
    example: {
      ldap_enable: true,
      ldap_url: 'ldaps://ldap.example.com',
      ldap_bind_dn: 'cn=steward,dc=example,dc=com',
    },
    effect: 'runtime',
  },
  {
    name: 'sshd',
    path: '/api/v1/system/config/sshd/',
    summary: 'SSH daemon of the manager host',
    description:
      'Host-level: stored, then handed to the apply hook. Root login is dangerous; it is off by default.',
    body: StrictObject({
      banner_content: Str('Pre-login banner', 4000),
      macs: Str('Comma-separated MAC algorithms', 1000),
      ciphers: Str('Comma-separated ciphers', 1000),
      kexalgorithms: Str('Comma-separated key exchange algorithms', 1000),
      authorized_keys_file: Str('AuthorizedKeysFile', 500),
      client_alive_interval: Str('Seconds (digits)', 10),
      client_alive_count_max: Str('Count (digits)', 10),
      permit_root_login: Opt(
        Type.Union(
          ['yes', 'no', 'prohibit-password', 'without-password', 'forced-commands-only'].map((v) =>
            Type.Literal(v),
          ),
          { description: 'PermitRootLogin' },
        ),
      ),
    }),
    defaults: {
      banner_content: '',
      macs: '',
      ciphers: '',
      kexalgorithms: '',
      authorized_keys_file: '.ssh/authorized_keys',
      client_alive_interval: '300',
      client_alive_count_max: '3',
      permit_root_login: 'no',
    },
    secrets: [],
    example: { permit_root_login: 'no', client_alive_interval: '300' },
    effect: 'host',
  },
  {
    name: 'ticloud',
    path: '/api/v1/config/ticloud/',
    summary: 'Threat intelligence cloud connection',
    description: 'Used for licensing and update downloads. `token` is write-only.',
    body: StrictObject({
      enable: Bool('Use the cloud service'),
      url: Str('https URL of the service', 500),
      user: Str('User name', 200),
      token: Str('Password or token (write-only)', 500),
      token_set: SecretSet('token'),
      timeout: Opt(Type.Integer({ minimum: 1, maximum: 600, description: 'Seconds' })),
    }),
    defaults: { enable: false, url: 'https://appliance-api.reversinglabs.com', user: '', timeout: 10 },
    secrets: ['token'],
    example: {
      enable: true,
      url: 'https://appliance-api.reversinglabs.com',
      user: 'u/myusername',
      timeout: 10,
    },
    effect: 'runtime',
  },
  {
    name: 'license_cloud',
    path: '/api/v1/license/configure/cloud/',
    summary: 'Licensing through the cloud service',
    description: 'Stored; `token` and `proxy_password` are write-only.',
    body: StrictObject({
      url: Str('https URL of the licensing service', 500),
      user: Str('User name', 200),
      token: Str('Token (write-only)', 500),
      token_set: SecretSet('token'),
      timeout: Opt(Type.Integer({ minimum: 1, maximum: 600, description: 'Seconds' })),
      proxy_enabled: Bool('Go through an HTTP proxy'),
      proxy_host: Str('Proxy host', 300),
      proxy_port: Opt(Type.Integer({ minimum: 0, maximum: 65535, description: 'Proxy port (0: unset)' })),
      proxy_user: Str('Proxy user', 200),
      proxy_password: Str('Proxy password (write-only)', 500),
      proxy_password_set: SecretSet('proxy_password'),
    }),
    defaults: {
      url: 'https://appliance-api.reversinglabs.com',
      user: '',
      timeout: 10,
      proxy_enabled: false,
      proxy_host: '',
      proxy_port: 0,
      proxy_user: '',
    },
    secrets: ['token', 'proxy_password'],
    example: {
      url: 'https://appliance-api.reversinglabs.com',
      user: 'u/example',
      timeout: 10,
      proxy_enabled: false,
    },
    effect: 'runtime',
  },
  {
    name: 'snmp',
    path: '/api/v1/config/snmp/',
    summary: 'SNMP v2c agent and traps',
    description:
      'SNMPv2c traps go to `trap_sink` on alerts (appliance offline/online, token expiring, backup failed) and when ' +
      'this host crosses a threshold (percentages; 0: off). The section is also handed to the apply hook (the ' +
      "host's SNMP agent answers queries).",
    body: StrictObject({
      enable: Bool('Answer SNMP v2c queries'),
      community: Str('Read community', 200),
      trap_sink_enable: Bool('Send traps'),
      trap_community: Str('Trap community', 200),
      trap_sink: Str('Trap receiver host[:port]', 300),
      trap_avg_load_threshold_1min: Pct('Load threshold, 1 minute average (%)'),
      trap_avg_load_threshold_5min: Pct('Load threshold, 5 minute average (%)'),
      trap_avg_load_threshold_15min: Pct('Load threshold, 15 minute average (%)'),
      trap_memory_threshold: Pct('Used memory (%)'),
      trap_disk_threshold: Pct('Used disk (%)'),
    }),
    defaults: {
      enable: false,
      community: '',
      trap_sink_enable: false,
      trap_community: '',
      trap_sink: '',
      trap_avg_load_threshold_1min: 90,
      trap_avg_load_threshold_5min: 80,
      trap_avg_load_threshold_15min: 70,
      trap_memory_threshold: 90,
      trap_disk_threshold: 90,
    },
    secrets: [],
    example: {
      enable: true,
      community: 'monitoring',
      trap_sink_enable: true,
      trap_sink: '192.0.2.50:162',
      trap_disk_threshold: 85,
    },
    effect: 'host',
  },
  {
    name: 'smtp',
    path: '/api/v1/config/smtp/',
    summary: 'Outgoing mail (SMTP)',
    description:
      'Used for alerts (token expiry, appliance offline, backup failed). `password` is write-only; ' +
      'send a test message with `POST /api/v1/config/smtp/test/`.',
    body: StrictObject({
      host: Str('SMTP relay host', 300),
      port: Port('SMTP port'),
      user: Str('User name (empty: no authentication)', 300),
      password: Str('Password (write-only)', 500),
      password_set: SecretSet('password'),
      use_tls: Bool('Implicit TLS (port 465); otherwise STARTTLS is used when offered'),
      default_from_email: Str('From address', 300),
    }),
    defaults: { host: '', port: 25, user: '', use_tls: false, default_from_email: '' },
    secrets: ['password'],
    example: {
      host: 'smtp.example.com',
      port: 587,
      user: 'steward',
      use_tls: false,
      default_from_email: 'steward@example.com',
    },
    effect: 'runtime',
  },
  {
    name: 'systemalerting',
    path: '/api/v1/config/systemalerting/',
    summary: 'Syslog (system alerting)',
    description:
      'RFC 5424 syslog over UDP, TCP (octet-counted framing) or TLS. With `syslog_enable_audit_logs` every audit ' +
      'record is forwarded once its change committed. Alerts (appliance offline/online, token expiry, backup failed) ' +
      'go to syslog, by mail (SMTP section) and as SNMP traps (SNMP section); `token_expiry_warning_days` sets ' +
      'how early a token is warned about.',
    body: StrictObject({
      syslog_enable: Bool('Send syslog messages'),
      syslog_host: Str('Collector host', 300),
      syslog_port: Port('Collector port'),
      syslog_transport_protocol: Opt(
        Type.Union([Type.Literal('UDP'), Type.Literal('TCP'), Type.Literal('TLS')], {
          description: 'Transport',
        }),
      ),
      syslog_enable_audit_logs: Bool('Forward every audit record'),
      token_expiry_warning_days: Opt(
        Type.Integer({
          minimum: 0,
          maximum: 365,
          description:
            'Warn (mail to the owner, SNMP trap, syslog) once per API token this many days before it expires; 0: never',
        }),
      ),
    }),
    defaults: {
      syslog_enable: false,
      syslog_host: '',
      syslog_port: 514,
      syslog_transport_protocol: 'UDP',
      syslog_enable_audit_logs: false,
      token_expiry_warning_days: 7,
    },
    secrets: [],
    example: {
      syslog_enable: true,
      syslog_host: 'siem.example.com',
      syslog_port: 6514,
      syslog_transport_protocol: 'TLS',
      syslog_enable_audit_logs: true,
    },
    effect: 'runtime',
  },
  {
    name: 'central_logging',
    path: '/api/v1/config/central_logging/',
    summary: 'Retention of logs and stored files',
    description:
      'Audit records older than the retention period are deleted by a background job. Files older than the TTL are ' +
      'deleted; larger files are refused; uploads are refused when free space falls below the minimum.',
    body: StrictObject({
      central_logging__enable: Bool('Keep audit and log records (retention applies)'),
      central_logging__retention_period: Opt(
        Type.Integer({ minimum: 1, maximum: 3650, description: 'Days' }),
      ),
      central_file_storage__enable: Bool('Keep uploaded files'),
      central_file_storage__ttl: Opt(
        Type.Integer({ minimum: 1, maximum: 87600, description: 'Hours to keep files' }),
      ),
      central_file_storage__file_size_limit: Opt(
        Type.Integer({ minimum: 1, maximum: 1048576, description: 'MiB per file' }),
      ),
      central_storage_general__min_free_space: Opt(
        Type.Number({ minimum: 0, maximum: 100000, description: 'GiB' }),
      ),
    }),
    defaults: {
      central_logging__enable: true,
      central_logging__retention_period: 365,
      central_file_storage__enable: true,
      central_file_storage__ttl: 8760,
      central_file_storage__file_size_limit: 1024,
      central_storage_general__min_free_space: 1,
    },
    secrets: [],
    example: {
      central_logging__enable: true,
      central_logging__retention_period: 90,
      central_file_storage__ttl: 24,
    },
    effect: 'runtime',
  },
  {
    name: 'sync',
    path: '/api/v1/config/sync/',
    summary: 'YARA ruleset synchronisation',
    description: 'Whether YARA rulesets are synchronised across connected appliances.',
    body: StrictObject({ yararulesets_enable: Bool('Synchronise YARA rulesets') }),
    defaults: { yararulesets_enable: false },
    secrets: [],
    example: { yararulesets_enable: true },
    effect: 'runtime',
  },
];

/**
 * What GET (and POST) answer for a section: the body's fields without the write-only secrets and
 * actions, `<secret>_set` booleans (always present), and the read-only values. Derived from the
 * body, so a field added to the body is returned too; anything else stored is not.
 */
export function responseSchema(def: SectionDef): TObject {
  const properties: Record<string, TSchema> = {};
  for (const [key, schema] of Object.entries(def.body.properties as Record<string, TSchema>)) {
    if (def.secrets.includes(key) || def.actions?.includes(key)) continue;
    const secret = key.endsWith('_set') ? key.slice(0, -4) : undefined;
    properties[key] =
      secret && def.secrets.includes(secret)
        ? Type.Boolean({ description: `Whether \`${secret}\` is stored (its value is never returned)` })
        : schema;
  }
  for (const secret of def.secrets) {
    properties[`${secret}_set`] ??= Type.Boolean({
      description: `Whether \`${secret}\` is stored (its value is never returned)`,
    });
  }
  Object.assign(properties, def.readOnly ?? {});
  const example: Record<string, unknown> = { ...def.defaults, ...def.example };
  for (const s of def.secrets) example[`${s}_set`] = true;
  return StrictObject(properties, {
    description: `Current ${def.name} settings`,
    examples: [example],
  });
}

export const sectionByName = (name: string): SectionDef => {
  const s = SECTIONS.find((x) => x.name === name);
  if (!s) throw new Error(`unknown settings section ${name}`);
  return s;
};

export const settingsKey = (name: string) => `system.${name}`;
