// SNMPv2c traps (net-snmp) to the trap sink of /api/v1/config/snmp/. The OIDs live under the
// enterprise number 32473, the one RFC 5612 reserves for documentation, the same one the syslog
// structured data uses (`steward@32473`); docs/administration.md lists them. Sending never throws
// into the caller: a sink that is down must not break what raised the alert.

import snmp from 'net-snmp';

const BASE = '1.3.6.1.4.1.32473.1';

/** Notification OIDs (the value of snmpTrapOID.0). */
export const TRAP_OIDS = {
  applianceOffline: `${BASE}.0.1`,
  applianceOnline: `${BASE}.0.2`,
  tokenExpiring: `${BASE}.0.3`,
  backupFailed: `${BASE}.0.4`,
  hostThreshold: `${BASE}.0.5`,
} as const;

/** Object OIDs carried in the varbinds. */
export const OBJECT_OIDS = {
  message: `${BASE}.1.1`,
  applianceId: `${BASE}.1.2`,
  applianceName: `${BASE}.1.3`,
  applianceType: `${BASE}.1.4`,
  tokenId: `${BASE}.1.5`,
  tokenName: `${BASE}.1.6`,
  tokenExpires: `${BASE}.1.7`,
  tokenOwner: `${BASE}.1.8`,
  metric: `${BASE}.1.9`,
  value: `${BASE}.1.10`,
  threshold: `${BASE}.1.11`,
} as const;

export type TrapKind = keyof typeof TRAP_OIDS;
export type TrapValue = string | number;

export interface TrapSink {
  host: string;
  port: number;
  community: string;
}

/** `host`, `host:port`, `[v6]:port` or a bare IPv6 address; the port defaults to 162. */
export function parseTrapSink(sink: string): { host: string; port: number } {
  const s = sink.trim();
  const bracketed = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/i.exec(s);
  if (bracketed) return { host: bracketed[1] as string, port: Number(bracketed[2] ?? 162) };
  const hostPort = /^([^:]+):(\d{1,5})$/.exec(s);
  if (hostPort) return { host: hostPort[1] as string, port: Number(hostPort[2]) };
  return { host: s, port: 162 };
}

export interface TrapSender {
  /** Sends one trap; resolves false (and reports through onError) when it could not be sent. */
  send(kind: TrapKind, values: Partial<Record<keyof typeof OBJECT_OIDS, TrapValue>>): Promise<boolean>;
}

export function createTrapSender(
  getSink: () => Promise<TrapSink | undefined>,
  onError: (err: Error) => void = () => {},
): TrapSender {
  return {
    async send(kind, values) {
      let sink: TrapSink | undefined;
      try {
        sink = await getSink();
      } catch (err) {
        onError(err as Error);
        return false;
      }
      if (!sink) return false;
      const varbinds: snmp.Varbind[] = [];
      for (const [name, value] of Object.entries(values)) {
        if (value === undefined) continue;
        const oid = OBJECT_OIDS[name as keyof typeof OBJECT_OIDS];
        varbinds.push(
          typeof value === 'number'
            ? { oid, type: snmp.ObjectType.Integer, value: Math.round(value) }
            : { oid, type: snmp.ObjectType.OctetString, value: value.slice(0, 1000) },
        );
      }
      const session = snmp.createSession(sink.host, sink.community, {
        version: snmp.Version2c,
        trapPort: sink.port,
        transport: sink.host.includes(':') ? 'udp6' : 'udp4',
      });
      return new Promise<boolean>((resolve) => {
        const done = (err?: Error | null) => {
          session.close();
          if (err) onError(err);
          resolve(!err);
        };
        session.on('error', (err: Error) => done(err));
        try {
          session.trap(TRAP_OIDS[kind], varbinds, (err) => done(err));
        } catch (err) {
          done(err as Error);
        }
      });
    },
  };
}
