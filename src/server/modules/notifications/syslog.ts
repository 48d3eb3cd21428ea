// RFC 5424 syslog client: UDP (one message per datagram), TCP and TLS (octet-counting framing,
// RFC 6587 / RFC 5425). Used for system alerts and, with `syslog_enable_audit_logs`, for
// forwarding every audit record. Sending never throws into the caller: a collector that is down
// must not break the change being audited.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as netConnect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';

export type SyslogTransport = 'UDP' | 'TCP' | 'TLS';

export interface SyslogTarget {
  host: string;
  port: number;
  transport: SyslogTransport;
  /** Extra TLS options (tests pass a CA). */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
}

export interface SyslogMessage {
  /** RFC 5424 severity 0..7 (6 informational, 4 warning, 3 error). */
  severity: number;
  msgId: string;
  message: string;
  /** Structured data under the SD-ID `steward@32473`. */
  data?: Record<string, string | number | null | undefined>;
  at?: Date;
}

const FACILITY_LOCAL0 = 16;
const HOST =
  hostname()
    .replace(/[^\x21-\x7e]/g, '')
    .slice(0, 255) || '-';

const header = (s: string, max: number) => s.replace(/[^\x21-\x7e]/g, '').slice(0, max) || '-';
const sdEscape = (v: string) => v.replace(/[\\"\]]/g, (c) => `\\${c}`);

export function formatRfc5424(m: SyslogMessage): string {
  const pri = FACILITY_LOCAL0 * 8 + Math.min(7, Math.max(0, m.severity));
  const at = (m.at ?? new Date()).toISOString();
  const entries = Object.entries(m.data ?? {}).filter(([, v]) => v !== undefined && v !== null);
  const sd =
    entries.length === 0
      ? '-'
      : `[steward@32473${entries.map(([k, v]) => ` ${header(k, 32).replace(/[= "\]]/g, '')}="${sdEscape(String(v))}"`).join('')}]`;
  // The BOM marks MSG as UTF-8, as RFC 5424 section 6.4 asks.
  return `<${pri}>1 ${at} ${HOST} steward ${process.pid} ${header(m.msgId, 32)} ${sd} \uFEFF${m.message}`;
}

export function createSyslogClient(onError: (err: Error) => void = () => {}) {
  let target: SyslogTarget | undefined;
  let udp: UdpSocket | undefined;
  let stream: Socket | undefined;
  let connecting: Promise<Socket> | undefined;

  function closeAll() {
    udp?.close();
    udp = undefined;
    stream?.destroy();
    stream = undefined;
    connecting = undefined;
  }

  function openStream(t: SyslogTarget): Promise<Socket> {
    if (stream && !stream.destroyed) return Promise.resolve(stream);
    if (connecting) return connecting;
    connecting = new Promise<Socket>((resolve, reject) => {
      const s =
        t.transport === 'TLS'
          ? tlsConnect({ host: t.host, port: t.port, servername: t.host, ...(t.tls ?? {}) })
          : netConnect({ host: t.host, port: t.port });
      const ready = t.transport === 'TLS' ? 'secureConnect' : 'connect';
      s.setTimeout(10_000, () => s.destroy(new Error('syslog connection timed out')));
      s.once(ready, () => {
        s.setTimeout(0);
        stream = s;
        connecting = undefined;
        resolve(s);
      });
      s.once('error', (err) => {
        connecting = undefined;
        if (stream === s) stream = undefined;
        reject(err);
      });
      s.once('close', () => {
        if (stream === s) stream = undefined;
      });
    });
    return connecting;
  }

  async function sendRaw(t: SyslogTarget, line: string) {
    if (t.transport === 'UDP') {
      if (!udp) {
        udp = createSocket(t.host.includes(':') ? 'udp6' : 'udp4');
        udp.on('error', onError);
        udp.unref();
      }
      const buf = Buffer.from(line, 'utf8');
      await new Promise<void>((res, rej) =>
        udp?.send(buf, t.port, t.host, (err) => (err ? rej(err) : res())),
      );
      return;
    }
    const s = await openStream(t);
    const body = Buffer.from(line, 'utf8');
    await new Promise<void>((res, rej) =>
      s.write(Buffer.concat([Buffer.from(`${body.length} `), body]), (err) => (err ? rej(err) : res())),
    );
  }

  return {
    configure(next: SyslogTarget | undefined) {
      const same =
        next &&
        target &&
        next.host === target.host &&
        next.port === target.port &&
        next.transport === target.transport;
      if (!same) closeAll();
      target = next;
    },
    get target() {
      return target;
    },
    /** Sends one message to the configured collector; resolves false (and reports) on failure. */
    async send(m: SyslogMessage, to: SyslogTarget | undefined = target): Promise<boolean> {
      if (!to) return false;
      try {
        await sendRaw(to, formatRfc5424(m));
        return true;
      } catch (err) {
        onError(err as Error);
        return false;
      }
    },
    close: closeAll,
  };
}

export type SyslogClient = ReturnType<typeof createSyslogClient>;
