// The fuzz sends hostile values to routes that make the manager call out (appliance URLs,
// SMTP, LDAP, syslog, SNMP, NTP, cluster peers). No packet may leave this process: every TCP
// connect, UDP send and DNS lookup fails at once with ECONNREFUSED, and the attempt is counted.
// (The fuzz runs on the in-process PGlite, which needs no socket.) Failing fast also keeps a
// request from waiting on a remote host, so a hang the fuzz reports is the manager's own.
import dgram from 'node:dgram';
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

export interface NetworkGuard {
  blocked: string[];
  restore(): void;
}

const refused = (what: string) =>
  Object.assign(new Error(`connect ECONNREFUSED ${what} (blocked by the fuzz network guard)`), {
    code: 'ECONNREFUSED',
    errno: -111,
    syscall: 'connect',
  });

export function installNetworkGuard(): NetworkGuard {
  const blocked: string[] = [];
  const connect = net.Socket.prototype.connect;
  const send = dgram.Socket.prototype.send;
  const lookup = dns.lookup;
  const promisesLookup = dns.promises.lookup;

  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    const first = args[0] as { host?: string; port?: number; path?: string } | number | string;
    const what =
      typeof first === 'object' && first !== null
        ? `${first.host ?? first.path ?? '?'}:${first.port ?? ''}`
        : `${String(args[1] ?? 'localhost')}:${String(first)}`;
    blocked.push(`tcp ${what}`);
    process.nextTick(() => this.destroy(refused(what)));
    return this;
  } as typeof connect;
  dgram.Socket.prototype.send = function guardedSend(this: dgram.Socket, ...args: unknown[]) {
    blocked.push('udp send');
    const cb = args.findLast((a) => typeof a === 'function') as ((e: Error) => void) | undefined;
    if (cb) process.nextTick(() => cb(refused('udp')));
  } as typeof send;
  dns.lookup = ((hostname: string, ...rest: unknown[]) => {
    blocked.push(`dns ${hostname}`);
    const cb = rest.findLast((a) => typeof a === 'function') as ((e: Error) => void) | undefined;
    if (cb)
      process.nextTick(() =>
        cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })),
      );
  }) as typeof dns.lookup;
  dns.promises.lookup = (async (hostname: string) => {
    blocked.push(`dns ${hostname}`);
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  }) as typeof dns.promises.lookup;

  // `import { lookup } from 'node:dns'` elsewhere sees the patched functions only after this.
  syncBuiltinESMExports();
  return {
    blocked,
    restore() {
      net.Socket.prototype.connect = connect;
      dgram.Socket.prototype.send = send;
      dns.lookup = lookup;
      dns.promises.lookup = promisesLookup;
      syncBuiltinESMExports();
    },
  };
}
