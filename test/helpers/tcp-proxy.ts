// A TCP proxy on loopback between a manager and PostgreSQL, so a test can make the database
// disappear (connections refused and cut) or freeze (connections open, nothing answers)
// without touching the real server that other tests use.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface DbProxy {
  port: number;
  /** Cuts every connection and refuses new ones. */
  stop(): Promise<void>;
  /** Accepts connections again on the same port. */
  start(): Promise<void>;
  /** Keeps connections open but forwards nothing, like a server stopped with SIGSTOP. */
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function startDbProxy(target = { host: '127.0.0.1', port: 5432 }): Promise<DbProxy> {
  const sockets = new Set<Socket>();
  let frozen = false;
  let server: Server | undefined;
  let port = 0;
  const held: (() => void)[] = [];

  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(target);
        sockets.add(client);
        sockets.add(upstream);
        const forward = (from: Socket, to: Socket) =>
          from.on('data', (d) => {
            if (frozen) held.push(() => to.write(d));
            else to.write(d);
          });
        forward(client, upstream);
        forward(upstream, client);
        const close = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', close).on('close', close);
        upstream.on('error', close).on('close', close);
      });
      server.listen(port, '127.0.0.1', () => {
        const a = server?.address();
        if (a && typeof a === 'object') port = a.port;
        resolve();
      });
    });
  await listen();
  const stop = async () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  };
  return {
    get port() {
      return port;
    },
    stop,
    start: listen,
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
      for (const f of held.splice(0)) f();
    },
    close: stop,
  };
}
