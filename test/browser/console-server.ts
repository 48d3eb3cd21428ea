// Serves the built console (dist/console) the way the manager will: static files, index.html
// for any other non-API path (client-side routes), and /api/* passed through to a real manager,
// so the browser sees one origin and the SameSite=Strict session cookie works.
// Used only while the manager does not serve the console itself.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';

export const CONSOLE_DIR = join(import.meta.dirname, '..', '..', 'dist', 'console');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

const CSP =
  "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';" +
  "img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline'";

export async function startConsoleServer(
  managerUrl: string,
): Promise<{ url: string; close: () => Promise<void> }> {
  const target = new URL(managerUrl);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/api' || path.startsWith('/api/')) {
      const upstream = request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => {
        res.writeHead(502).end();
      });
      req.pipe(upstream);
      return;
    }
    const file = normalize(join(CONSOLE_DIR, path));
    const inside = file.startsWith(CONSOLE_DIR);
    const isFile = inside && existsSync(file) && statSync(file).isFile();
    const served = isFile ? file : join(CONSOLE_DIR, 'index.html');
    res.writeHead(isFile || !extname(path) ? 200 : 404, {
      // The policy the manager (helmet) sends, so a CSP violation shows up in these tests too.
      'content-security-policy': CSP,
      'content-type': TYPES[extname(served)] ?? 'application/octet-stream',
      'cache-control': served.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable',
    });
    res.end(isFile || !extname(path) ? readFileSync(served) : '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
