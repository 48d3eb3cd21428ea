// The directory connection test: one LDAPv3 simple bind (ldapts) over ldap:// (optionally with
// StartTLS) or ldaps://, answering the result code instead of throwing when the directory refuses.

import type { ConnectionOptions } from 'node:tls';
import { Client, ResultCodeError } from 'ldapts';

/**
 * Ends an LDAP connection after its work is done, one way or the other. Not logged: the answer
 * (a bind result, a search, or the error that ended them) is already settled, and an unbind
 * fails only on a connection that is already broken or was never made, which closes it anyway.
 */
export async function unbindQuietly(client: Pick<Client, 'unbind'>): Promise<void> {
  await client.unbind().catch(() => undefined);
}

export interface BindResult {
  ok: boolean;
  resultCode: number;
  message: string;
}

export async function ldapBind(
  url: string,
  dn: string,
  password: string,
  opts: { timeoutMs?: number; startTls?: boolean; tls?: ConnectionOptions } = {},
): Promise<BindResult> {
  const timeout = opts.timeoutMs ?? 10_000;
  const client = new Client({
    url,
    timeout,
    connectTimeout: timeout,
    ...(opts.tls ? { tlsOptions: opts.tls } : {}),
  });
  try {
    if (opts.startTls && url.startsWith('ldap:')) await client.startTLS(opts.tls ?? {});
    await client.bind(dn, password);
    return { ok: true, resultCode: 0, message: '' };
  } catch (err) {
    // The directory answered and refused: a result, not a failure to reach it.
    if (err instanceof ResultCodeError) return { ok: false, resultCode: err.code, message: err.message };
    throw err;
  } finally {
    await unbindQuietly(client);
  }
}
