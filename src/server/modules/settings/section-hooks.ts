// Per-section validation beyond the schema, and what makes each section take effect.

import { badField } from '../../shared/app-error.js';
import {
  installPair,
  loadCertificatePair,
  type NetworkState,
  normaliseBaseUrl,
  parseAllowedHosts,
  parseApplianceNetworks,
  reloadTls,
  selfSignedPair,
  type TlsFiles,
} from '../network/network.js';
import type { SyslogClient, SyslogTransport } from '../notifications/syslog.js';
import type { SectionHooks } from './settings.service.js';

const HOSTNAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const IP_RE = /^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-f:]+$/i;
const EMAIL_RE = /^[^\s@<>"]{1,64}@[^\s@<>"]{1,255}$/;

export function checkHost(value: unknown, field: string, allowPort = false) {
  const s = String(value ?? '');
  if (s === '') return;
  const host = allowPort ? s.replace(/:\d{1,5}$/, '') : s;
  if (!HOSTNAME_RE.test(host) && !IP_RE.test(host))
    throw badField(field, 'must be a host name or IP address');
}

function checkUrl(value: unknown, field: string, schemes: string[]) {
  const s = String(value ?? '');
  if (s === '') return;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw badField(field, 'must be an absolute URL');
  }
  if (!schemes.includes(u.protocol))
    throw badField(field, `must use ${schemes.map((x) => x.replace(':', '')).join(' or ')}`);
}

const checkAlgoList = (v: unknown, field: string) => {
  if (!/^[A-Za-z0-9@.+,_-]*$/.test(String(v ?? '')))
    throw badField(field, 'must be a comma-separated list of algorithm names');
};

export interface HookDeps {
  network: NetworkState;
  syslog: SyslogClient;
  uploadsDir: string;
  tlsFiles: TlsFiles;
  /** The root app, once known (its server gets the new certificate). */
  app: () => { server: unknown } | undefined;
  onTlsReloaded?: (subject: string) => void;
}

export function createSectionHooks(deps: HookDeps): Record<string, SectionHooks> {
  let pendingPair: { cert: Buffer; key: Buffer } | undefined;
  return {
    network: {
      async prepare(next, _prev, patch) {
        next.base_url = normaliseBaseUrl(String(next.base_url ?? ''));
        parseAllowedHosts(String(next.allowed_hosts ?? ''));
        parseApplianceNetworks(String(next.appliance_networks ?? ''), deps.network.defaultAppliancePolicy);
        const wantsCert = Boolean(patch.certificate_path || patch.certificate_key_path);
        // With a certificate, reset_ssl: true (as the seed sends it) changes nothing more: the
        // named pair replaces whatever is served. Alone, it goes back to a self-signed one.
        if (wantsCert) {
          if (!patch.certificate_path || !patch.certificate_key_path) {
            throw badField(
              patch.certificate_path ? 'body.certificate_key_path' : 'body.certificate_path',
              'certificate_path and certificate_key_path go together',
            );
          }
          const pair = await loadCertificatePair(
            deps.uploadsDir,
            String(patch.certificate_path),
            String(patch.certificate_key_path),
          );
          await installPair(deps.tlsFiles, pair);
          pendingPair = pair;
          next.certificate_subject = pair.info.subject;
          next.certificate_not_after = pair.info.notAfter;
        } else if (patch.reset_ssl === true) {
          const host = next.base_url ? new URL(String(next.base_url)).hostname : 'localhost';
          const pair = await selfSignedPair(host);
          await installPair(deps.tlsFiles, pair);
          pendingPair = pair;
          next.certificate_path = '';
          next.certificate_key_path = '';
          next.certificate_subject = pair.info.subject;
          next.certificate_not_after = pair.info.notAfter;
        }
        return next;
      },
      apply(value) {
        deps.network.baseUrl = value.base_url ? String(value.base_url) : undefined;
        deps.network.allowedHosts = parseAllowedHosts(String(value.allowed_hosts ?? ''));
        deps.network.appliancePolicy = parseApplianceNetworks(
          String(value.appliance_networks ?? ''),
          deps.network.defaultAppliancePolicy,
        );
        if (pendingPair) {
          const pair = pendingPair;
          pendingPair = undefined;
          if (reloadTls(deps.app(), pair)) deps.onTlsReloaded?.(String(value.certificate_subject ?? ''));
        }
      },
    },
    smtp: {
      prepare(next) {
        checkHost(next.host, 'body.host');
        const from = String(next.default_from_email ?? '');
        if (from !== '' && !EMAIL_RE.test(from))
          throw badField('body.default_from_email', 'must be an email address');
        return next;
      },
    },
    systemalerting: {
      prepare(next) {
        checkHost(next.syslog_host, 'body.syslog_host');
        if (next.syslog_enable === true && !next.syslog_host) {
          throw badField('body.syslog_host', 'is required when syslog_enable is true');
        }
        return next;
      },
      apply(value) {
        deps.syslog.configure(
          value.syslog_enable === true && value.syslog_host
            ? {
                host: String(value.syslog_host),
                port: Number(value.syslog_port ?? 514),
                transport: (value.syslog_transport_protocol as SyslogTransport | undefined) ?? 'UDP',
              }
            : undefined,
        );
      },
    },
    ntp: {
      prepare(next) {
        const servers = String(next.servers ?? '')
          .split(/\r?\n/)
          .map((s) => s.trim())
          .filter(Boolean);
        for (const s of servers) checkHost(s, 'body.servers');
        if (next.enable === true && servers.length === 0)
          throw badField('body.servers', 'name at least one server');
        return next;
      },
    },
    sshd: {
      prepare(next) {
        for (const f of ['client_alive_interval', 'client_alive_count_max']) {
          if (!/^\d{1,6}$/.test(String(next[f] ?? '')))
            throw badField(`body.${f}`, 'must be a number of up to 6 digits');
        }
        for (const f of ['macs', 'ciphers', 'kexalgorithms']) checkAlgoList(next[f], `body.${f}`);
        if (/[\r\n\0]/.test(String(next.authorized_keys_file ?? ''))) {
          throw badField('body.authorized_keys_file', 'must be one line');
        }
        return next;
      },
    },
    snmp: {
      prepare(next) {
        checkHost(next.trap_sink, 'body.trap_sink', true);
        if (next.trap_sink_enable === true && !next.trap_sink) {
          throw badField('body.trap_sink', 'is required when trap_sink_enable is true');
        }
        if (next.enable === true && !next.community)
          throw badField('body.community', 'is required when enable is true');
        return next;
      },
    },
    directory: {
      prepare(next) {
        checkUrl(next.ldap_url, 'body.ldap_url', ['ldap:', 'ldaps:']);
        checkUrl(next.oidc_issuer, 'body.oidc_issuer', ['https:']);
        if (next.ldap_enable === true && !next.ldap_url)
          throw badField('body.ldap_url', 'is required when ldap_enable is true');
        if (next.oidc_enable === true && (!next.oidc_issuer || !next.oidc_client_id)) {
          throw badField(
            'body.oidc_issuer',
            'oidc_issuer and oidc_client_id are required when oidc_enable is true',
          );
        }
        return next;
      },
    },
    ticloud: {
      prepare(next) {
        checkUrl(next.url, 'body.url', ['https:']);
        return next;
      },
    },
    license_cloud: {
      prepare(next) {
        checkUrl(next.url, 'body.url', ['https:']);
        checkHost(next.proxy_host, 'body.proxy_host');
        if (next.proxy_enabled === true && (!next.proxy_host || !next.proxy_port)) {
          throw badField(
            'body.proxy_host',
            'proxy_host and proxy_port are required when proxy_enabled is true',
          );
        }
        return next;
      },
    },
  };
}
