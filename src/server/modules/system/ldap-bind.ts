// The directory connection test: one LDAPv3 simple bind (RFC 4511) over ldap:// or ldaps://,
// with just enough BER to send a BindRequest and read the BindResponse's result code.

import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface BindResult {
  ok: boolean;
  resultCode: number;
  message: string;
}

function berLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}

const tlv = (tag: number, value: Buffer) =>
  Buffer.concat([Buffer.from([tag]), berLength(value.length), value]);

export function encodeBindRequest(messageId: number, dn: string, password: string): Buffer {
  const bind = tlv(
    0x60, // [APPLICATION 0] BindRequest
    Buffer.concat([
      tlv(0x02, Buffer.from([3])),
      tlv(0x04, Buffer.from(dn, 'utf8')),
      tlv(0x80, Buffer.from(password, 'utf8')),
    ]),
  );
  return tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([messageId])), bind]));
}

/** Reads one TLV at `offset`; undefined when the buffer does not hold all of it yet. */
function readTlv(buf: Buffer, offset: number): { tag: number; start: number; end: number } | undefined {
  if (buf.length < offset + 2) return undefined;
  const tag = buf[offset] as number;
  let len = buf[offset + 1] as number;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 3 || buf.length < start + n) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | (buf[start + i] as number);
    start += n;
  }
  if (buf.length < start + len) return undefined;
  return { tag, start, end: start + len };
}

/** Parses a BindResponse; undefined while incomplete; throws on anything else. */
export function decodeBindResponse(buf: Buffer): BindResult | undefined {
  const msg = readTlv(buf, 0);
  if (!msg) return undefined;
  if (msg.tag !== 0x30) throw new Error('not an LDAP message');
  const id = readTlv(buf, msg.start);
  if (id?.tag !== 0x02) throw new Error('malformed LDAP message');
  const op = readTlv(buf, id.end);
  if (op?.tag !== 0x61) throw new Error('the server did not answer with a BindResponse');
  const code = readTlv(buf, op.start);
  if (code?.tag !== 0x0a) throw new Error('malformed BindResponse');
  let resultCode = 0;
  for (let i = code.start; i < code.end; i++) resultCode = (resultCode << 8) | (buf[i] as number);
  const matched = readTlv(buf, code.end);
  const diag = matched ? readTlv(buf, matched.end) : undefined;
  const message = diag && diag.tag === 0x04 ? buf.toString('utf8', diag.start, diag.end) : '';
  return { ok: resultCode === 0, resultCode, message };
}

export function ldapBind(
  url: string,
  dn: string,
  password: string,
  opts: { timeoutMs?: number; tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean } } = {},
): Promise<BindResult> {
  const u = new URL(url);
  const secure = u.protocol === 'ldaps:';
  const port = Number(u.port || (secure ? 636 : 389));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket: Socket = secure
      ? tlsConnect({ host, port, servername: host, ...(opts.tls ?? {}) })
      : netConnect({ host, port });
    let buf = Buffer.alloc(0);
    const done = (err: Error | undefined, r?: BindResult) => {
      socket.destroy();
      if (err) reject(err);
      else resolve(r as BindResult);
    };
    socket.setTimeout(opts.timeoutMs ?? 10_000, () =>
      done(new Error('the directory did not answer in time')),
    );
    socket.once(secure ? 'secureConnect' : 'connect', () => socket.write(encodeBindRequest(1, dn, password)));
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      try {
        const r = decodeBindResponse(buf);
        if (r) done(undefined, r);
      } catch (err) {
        done(err as Error);
      }
    });
    socket.once('error', (err) => done(err));
    socket.once('close', () => done(new Error('the directory closed the connection')));
  });
}
