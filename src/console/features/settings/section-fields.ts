// The form of each settings section: which input each field gets, its label and help. The keys
// are checked against the section's GET answer from the OpenAPI document, so a renamed or removed
// field breaks the console build. Secrets appear in the answer only as `<field>_set`.
import type { FormSection, SettingsOf } from '../../api/system';

type KeysOf<T, V> = { [K in keyof T]-?: NonNullable<T[K]> extends V ? K : never }[keyof T] & string;

interface Common {
  label: string;
  description?: string;
}

export type FieldSpec<T> =
  | (Common & { kind: 'text' | 'textarea'; key: KeysOf<T, string>; placeholder?: string })
  | (Common & { kind: 'number'; key: KeysOf<T, number>; min: number; max: number; step?: number })
  | (Common & { kind: 'switch'; key: KeysOf<T, boolean> })
  | (Common & {
      kind: 'select';
      key: KeysOf<T, string>;
      options: readonly NonNullable<T[KeysOf<T, string>]>[];
    })
  /** A write-only secret: the answer says `<field>_set`; the body takes `<field>`. */
  | (Common & { kind: 'secret'; key: Extract<KeysOf<T, boolean>, `${string}_set`> })
  /** Set by the manager, shown only. */
  | (Common & { kind: 'readonly'; key: KeysOf<T, string> });

export type SectionForms = { [S in FormSection]: FieldSpec<SettingsOf<S>>[] };

export const SECTION_FORMS: SectionForms = {
  network: [
    {
      kind: 'text',
      key: 'base_url',
      label: 'Application URL',
      description:
        'Used for absolute links and the manager URL told to agents, e.g. https://steward.example.com (a bare host means https)',
    },
    {
      kind: 'textarea',
      key: 'allowed_hosts',
      label: 'Allowed host names',
      description: 'One per line; *.example.com matches subdomains. Loopback always stays allowed.',
    },
    {
      kind: 'textarea',
      key: 'appliance_networks',
      label: 'Appliance networks',
      description:
        'IP addresses and networks (CIDR) the manager may call appliances in, one per line. Empty: the server default ' +
        '(loopback and private ranges). Link-local and cloud metadata addresses need listing themselves.',
    },
    {
      kind: 'text',
      key: 'certificate_path',
      label: 'Certificate file',
      description: 'An uploaded PEM certificate (<flowIdentifier>.<flowFilename>)',
    },
    {
      kind: 'text',
      key: 'certificate_key_path',
      label: 'Certificate key file',
      description: 'The uploaded private key that matches the certificate',
    },
    { kind: 'readonly', key: 'certificate_subject', label: 'Served certificate subject' },
    { kind: 'readonly', key: 'certificate_not_after', label: 'Served certificate expires' },
  ],
  ntp: [
    { kind: 'switch', key: 'enable', label: 'Synchronise the clock' },
    { kind: 'textarea', key: 'servers', label: 'NTP servers', description: 'One server per line' },
  ],
  directory: [
    { kind: 'switch', key: 'ldap_enable', label: 'Allow LDAP logins' },
    { kind: 'text', key: 'ldap_url', label: 'LDAP URL', placeholder: 'ldaps://ldap.example.com' },
    { kind: 'text', key: 'ldap_bind_dn', label: 'Bind DN', description: 'DN used to search for users' },
    { kind: 'secret', key: 'ldap_bind_password_set', label: 'Bind password' },
    { kind: 'text', key: 'ldap_user_search_base', label: 'User search base' },
    {
      kind: 'text',
      key: 'ldap_user_filter',
      label: 'User filter',
      description: '%(user)s stands for the login name',
    },
    { kind: 'switch', key: 'ldap_start_tls', label: 'Use StartTLS on ldap://' },
    { kind: 'switch', key: 'oidc_enable', label: 'Allow OpenID Connect logins' },
    { kind: 'text', key: 'oidc_issuer', label: 'OIDC issuer URL' },
    { kind: 'text', key: 'oidc_client_id', label: 'OIDC client id' },
    { kind: 'secret', key: 'oidc_client_secret_set', label: 'OIDC client secret' },
    {
      kind: 'select',
      key: 'default_role',
      label: 'Role of new directory users',
      options: ['viewer', 'operator', 'admin'],
    },
  ],
  sshd: [
    {
      kind: 'select',
      key: 'permit_root_login',
      label: 'Permit root login',
      options: ['no', 'prohibit-password', 'without-password', 'forced-commands-only', 'yes'],
    },
    { kind: 'textarea', key: 'banner_content', label: 'Pre-login banner' },
    { kind: 'text', key: 'ciphers', label: 'Ciphers', description: 'Comma-separated; empty: the default' },
    { kind: 'text', key: 'macs', label: 'MAC algorithms', description: 'Comma-separated' },
    { kind: 'text', key: 'kexalgorithms', label: 'Key exchange algorithms', description: 'Comma-separated' },
    { kind: 'text', key: 'authorized_keys_file', label: 'Authorized keys file' },
    { kind: 'text', key: 'client_alive_interval', label: 'Client alive interval (seconds)' },
    { kind: 'text', key: 'client_alive_count_max', label: 'Client alive count' },
  ],
  ticloud: [
    { kind: 'switch', key: 'enable', label: 'Use the threat cloud service' },
    { kind: 'text', key: 'url', label: 'Service URL' },
    { kind: 'text', key: 'user', label: 'User name' },
    { kind: 'secret', key: 'token_set', label: 'Password or token' },
    { kind: 'number', key: 'timeout', label: 'Timeout (seconds)', min: 1, max: 600 },
  ],
  snmp: [
    { kind: 'switch', key: 'enable', label: 'Answer SNMP v2c queries' },
    { kind: 'text', key: 'community', label: 'Read community' },
    { kind: 'switch', key: 'trap_sink_enable', label: 'Send traps' },
    { kind: 'text', key: 'trap_community', label: 'Trap community' },
    { kind: 'text', key: 'trap_sink', label: 'Trap receiver', placeholder: 'host[:port]' },
    {
      kind: 'number',
      key: 'trap_avg_load_threshold_1min',
      label: 'Load threshold, 1 min (%)',
      min: 0,
      max: 100,
    },
    {
      kind: 'number',
      key: 'trap_avg_load_threshold_5min',
      label: 'Load threshold, 5 min (%)',
      min: 0,
      max: 100,
    },
    {
      kind: 'number',
      key: 'trap_avg_load_threshold_15min',
      label: 'Load threshold, 15 min (%)',
      min: 0,
      max: 100,
    },
    { kind: 'number', key: 'trap_memory_threshold', label: 'Used memory threshold (%)', min: 0, max: 100 },
    { kind: 'number', key: 'trap_disk_threshold', label: 'Used disk threshold (%)', min: 0, max: 100 },
  ],
  smtp: [
    { kind: 'text', key: 'host', label: 'Host', description: 'SMTP relay host' },
    { kind: 'number', key: 'port', label: 'Port', min: 1, max: 65535 },
    { kind: 'text', key: 'user', label: 'User', description: 'Empty: no authentication' },
    { kind: 'secret', key: 'password_set', label: 'Password' },
    {
      kind: 'switch',
      key: 'use_tls',
      label: 'Implicit TLS (port 465)',
      description: 'Off: STARTTLS is used when the relay offers it',
    },
    { kind: 'text', key: 'default_from_email', label: 'From address' },
  ],
  systemalerting: [
    { kind: 'switch', key: 'syslog_enable', label: 'Send syslog messages' },
    { kind: 'text', key: 'syslog_host', label: 'Collector host' },
    { kind: 'number', key: 'syslog_port', label: 'Collector port', min: 1, max: 65535 },
    { kind: 'select', key: 'syslog_transport_protocol', label: 'Transport', options: ['UDP', 'TCP', 'TLS'] },
    { kind: 'switch', key: 'syslog_enable_audit_logs', label: 'Forward every audit record' },
  ],
  central_logging: [
    { kind: 'switch', key: 'central_logging__enable', label: 'Keep audit and log records' },
    {
      kind: 'number',
      key: 'central_logging__retention_period',
      label: 'Retention (days)',
      min: 1,
      max: 3650,
    },
    { kind: 'switch', key: 'central_file_storage__enable', label: 'Keep uploaded files' },
    { kind: 'number', key: 'central_file_storage__ttl', label: 'Keep files for (hours)', min: 1, max: 87600 },
    {
      kind: 'number',
      key: 'central_file_storage__file_size_limit',
      label: 'Largest file (MiB)',
      min: 1,
      max: 1048576,
    },
    {
      kind: 'number',
      key: 'central_storage_general__min_free_space',
      label: 'Minimum free space (GiB)',
      min: 0,
      max: 100000,
      step: 0.5,
    },
  ],
  sync: [{ kind: 'switch', key: 'yararulesets_enable', label: 'Synchronise YARA rulesets' }],
  license_cloud: [
    { kind: 'text', key: 'url', label: 'Licensing service URL' },
    { kind: 'text', key: 'user', label: 'User name' },
    { kind: 'secret', key: 'token_set', label: 'Token' },
    { kind: 'number', key: 'timeout', label: 'Timeout (seconds)', min: 1, max: 600 },
    { kind: 'switch', key: 'proxy_enabled', label: 'Go through an HTTP proxy' },
    { kind: 'text', key: 'proxy_host', label: 'Proxy host' },
    { kind: 'number', key: 'proxy_port', label: 'Proxy port', description: '0: unset', min: 0, max: 65535 },
    { kind: 'text', key: 'proxy_user', label: 'Proxy user' },
    { kind: 'secret', key: 'proxy_password_set', label: 'Proxy password' },
  ],
};

/** The same specs with the keys as plain strings, for the form that renders any section. */
export type LooseFieldSpec = Common & {
  kind: FieldSpec<unknown>['kind'];
  key: string;
  placeholder?: string;
  min?: number;
  max?: number;
  step?: number;
  options?: readonly string[];
};

export const formOf = (section: FormSection) => SECTION_FORMS[section] as unknown as LooseFieldSpec[];
