// Licence and TLS certificate install on the agent. The manager has already verified the
// licence's signature and matched it by machine id; the agent keeps it. A new certificate is
// checked against its key, written atomically and taken into use at once (no restart).

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:https';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type AgentState, writeFileAtomic } from './state.js';

export function registerLicenceAndCertificateRoutes(app: FastifyInstance, state: AgentState, tls: boolean) {
  const licencePath = join(state.dataDir, 'licence.json');

  app.get('/agent/v1/license', async () => {
    try {
      return JSON.parse(readFileSync(licencePath, 'utf8')) as unknown;
    } catch {
      return { license: null };
    }
  });

  app.put('/agent/v1/license', async (request, reply) => {
    const body = request.body as { license?: unknown; signature?: unknown } | undefined;
    if (
      !body ||
      typeof body.license !== 'object' ||
      body.license === null ||
      typeof body.signature !== 'string'
    ) {
      return reply
        .code(400)
        .send({ code: 'validation_failed', detail: 'body must be {"license": {...}, "signature": "..."}' });
    }
    const doc = { license: body.license, signature: body.signature, installed: new Date().toISOString() };
    writeFileAtomic(licencePath, JSON.stringify(doc, null, 2));
    state.addEvent({ kind: 'license.installed', severity: 'info', message: 'licence installed' });
    return doc;
  });

  app.put('/agent/v1/certificate', async (request, reply) => {
    const body = request.body as { cert?: unknown; key?: unknown } | undefined;
    if (!body || typeof body.cert !== 'string' || typeof body.key !== 'string') {
      return reply
        .code(400)
        .send({ code: 'validation_failed', detail: 'body must be {"cert": "<PEM>", "key": "<PEM>"}' });
    }
    let fingerprint: string;
    try {
      const cert = new X509Certificate(body.cert);
      if (!cert.checkPrivateKey(createPrivateKey(body.key)))
        throw new Error('the key does not belong to the certificate');
      fingerprint = cert.fingerprint256;
    } catch (err) {
      return reply
        .code(400)
        .send({ code: 'validation_failed', detail: `certificate not usable: ${(err as Error).message}` });
    }
    writeFileAtomic(join(state.dataDir, 'tls.key'), body.key);
    writeFileAtomic(join(state.dataDir, 'tls.crt'), body.cert, 0o644);
    // New connections get the new certificate; this response still goes out on the old one.
    if (tls) (app.server as Server).setSecureContext({ cert: body.cert, key: body.key });
    state.addEvent({
      kind: 'certificate.installed',
      severity: 'info',
      message: `TLS certificate installed (${fingerprint})`,
    });
    return { installed: true, fingerprint, live: tls };
  });
}
