// The directory connection test: one LDAPv3 simple bind (ldapts) over ldap:// (optionally with
// StartTLS) or ldaps://, answering the result code instead of throwing when the directory refuses.

import type { ConnectionOptions } from 'node:tls';
import { Client, ResultCodeError } from 'ldapts';

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
    await client.unbind().catch(() => {});
  }
}
