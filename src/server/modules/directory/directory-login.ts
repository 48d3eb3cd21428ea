// Directory (LDAP) logins, with ldapts: search-then-bind. The manager binds with the configured
// service DN (or anonymously), finds exactly one entry for the login name under the search base,
// then binds as that entry with the password the user typed. The password is never stored: the
// identity module creates or updates a local user without one (directory_type 1). The role comes
// from the group mapping (the entry's group attribute, e.g. memberOf), else `default_role`.

import type { ConnectionOptions } from 'node:tls';
import { Client, escapeFilter, InvalidCredentialsError } from 'ldapts';
import { AppError } from '../../shared/app-error.js';
import { unbindQuietly } from './ldap-bind.js';

export type Role = 'admin' | 'operator' | 'viewer';

/** `directory_type` of users that log in through LDAP (0: local users). */
export const DIRECTORY_TYPE_LDAP = 1;

export interface DirectoryUser {
  /** The entry's DN, kept as the user's directory_name. */
  dn: string;
  email: string;
  first_name: string;
  last_name: string;
  role: Role;
  directory_type: number;
}

export type DirectoryResult = { ok: true; user: DirectoryUser } | { ok: false; reason: string };

export interface DirectoryLogin {
  /** undefined when directory logins are off; otherwise whether the directory accepted them. */
  authenticate(username: string, password: string): Promise<DirectoryResult | undefined>;
}

const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];
const first = (v: unknown): string => {
  const x = Array.isArray(v) ? v[0] : v;
  return x === undefined || x === null ? '' : Buffer.isBuffer(x) ? x.toString('utf8') : String(x);
};
const all = (v: unknown): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((x) =>
    Buffer.isBuffer(x) ? x.toString('utf8') : String(x),
  );
/** DNs compare without case and without spaces around separators. */
const normDn = (dn: string) =>
  dn
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .join(',');

/** The highest role whose group the user is in; `fallback` when none matches. */
export function roleFromGroups(
  groups: readonly string[],
  mapping: Partial<Record<Role, string>>,
  fallback: Role | undefined,
): Role | undefined {
  const mine = new Set(groups.map(normDn));
  for (const role of ROLES) {
    const g = mapping[role];
    if (g && mine.has(normDn(g))) return role;
  }
  return fallback;
}

/** The search filter with the login name in place of `%(user)s`, escaped as RFC 4515 asks. */
export function userFilter(template: string, username: string): string {
  return template.split('%(user)s').join(escapeFilter`${username}`);
}

export function createDirectoryLogin(
  settings: () => Promise<Record<string, unknown>>,
  opts: { tls?: ConnectionOptions; timeoutMs?: number } = {},
): DirectoryLogin {
  return {
    async authenticate(username, password) {
      const s = await settings();
      if (s.ldap_enable !== true || !s.ldap_url) return undefined;
      // An empty password would be an unauthenticated bind, which LDAP servers accept.
      if (password === '' || username.trim() === '') return { ok: false, reason: 'empty credentials' };
      const base = String(s.ldap_user_search_base ?? '');
      if (!base) return { ok: false, reason: 'ldap_user_search_base is not set' };
      const url = String(s.ldap_url);
      const timeout = opts.timeoutMs ?? 10_000;
      const client = () =>
        new Client({ url, timeout, connectTimeout: timeout, ...(opts.tls ? { tlsOptions: opts.tls } : {}) });
      const start = async (c: Client) => {
        if (s.ldap_start_tls === true && url.startsWith('ldap:')) await c.startTLS(opts.tls ?? {});
      };
      const groupAttr = String(s.ldap_group_attribute || 'memberOf');
      const service = client();
      let entry: Record<string, unknown>;
      try {
        await start(service);
        if (s.ldap_bind_dn) await service.bind(String(s.ldap_bind_dn), String(s.ldap_bind_password ?? ''));
        const filter = userFilter(String(s.ldap_user_filter || '(uid=%(user)s)'), username.trim());
        const { searchEntries } = await service.search(base, {
          scope: 'sub',
          filter,
          sizeLimit: 2,
          // Attribute names are case-insensitive in LDAP; asked in lower case, read in any case.
          attributes: ['mail', 'givenname', 'sn', groupAttr.toLowerCase()],
        });
        if (searchEntries.length !== 1) {
          return {
            ok: false,
            reason: searchEntries.length ? 'the login name matches several entries' : 'no such user',
          };
        }
        entry = Object.fromEntries(
          Object.entries(searchEntries[0] as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]),
        );
      } catch (err) {
        throw new AppError({
          code: 'unavailable',
          message: 'the directory server could not be searched; try again or ask an administrator',
          cause: err,
        });
      } finally {
        await unbindQuietly(service);
      }
      const dn = String(entry.dn);
      const asUser = client();
      try {
        await start(asUser);
        await asUser.bind(dn, password);
      } catch (err) {
        if (err instanceof InvalidCredentialsError) return { ok: false, reason: 'wrong password' };
        throw new AppError({
          code: 'unavailable',
          message: 'the directory server could not be reached; try again or ask an administrator',
          cause: err,
        });
      } finally {
        await unbindQuietly(asUser);
      }
      const fallback = s.ldap_require_group === true ? undefined : (s.default_role as Role | undefined);
      const role = roleFromGroups(
        all(entry[groupAttr.toLowerCase()]),
        {
          admin: String(s.ldap_admin_group ?? ''),
          operator: String(s.ldap_operator_group ?? ''),
          viewer: String(s.ldap_viewer_group ?? ''),
        },
        fallback,
      );
      if (!role) return { ok: false, reason: 'not a member of any mapped group' };
      return {
        ok: true,
        user: {
          dn,
          email: first(entry.mail).slice(0, 254),
          first_name: first(entry.givenname).slice(0, 150),
          last_name: first(entry.sn).slice(0, 150),
          role,
          directory_type: DIRECTORY_TYPE_LDAP,
        },
      };
    },
  };
}
