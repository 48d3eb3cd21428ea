// Licence and TLS certificate install on the agent. The manager has already verified the
// licence's signature and matched it by machine id; the agent keeps it. A new certificate is
// checked against its key (sent with it, or one the agent holds), written atomically and taken
// into use at once (no restart).

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
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

  // The certificate with its key, or the certificate alone when it belongs to the key this
  // agent already holds (the admin had a certificate issued for the key of the one it serves):
  // a key that never left the appliance is the better choice. Either way the pair is checked.
  app.put('/agent/v1/certificate', async (request, reply) => {
    const body = request.body as { cert?: unknown; key?: unknown } | undefined;
    if (!body || typeof body.cert !== 'string' || (body.key !== undefined && typeof body.key !== 'string')) {
      return reply.code(400).send({
        code: 'validation_failed',
        detail: 'body must be {"cert": "<PEM>", "key": "<PEM>"} (key optional)',
      });
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(body.cert);
    } catch (err) {
      return reply
        .code(400)
        .send({ code: 'validation_failed', detail: `certificate not usable: ${(err as Error).message}` });
    }
    let key: string;
    if (typeof body.key === 'string') {
      try {
        if (!cert.checkPrivateKey(createPrivateKey(body.key)))
          throw new Error('the key does not belong to the certificate');
      } catch (err) {
        return reply
          .code(400)
          .send({ code: 'validation_failed', detail: `certificate not usable: ${(err as Error).message}` });
      }
      key = body.key;
    } else {
      const held = readIfExists(join(state.dataDir, 'tls.key'));
      if (held === undefined || !cert.checkPrivateKey(createPrivateKey(held))) {
        return reply.code(400).send({
          code: 'key_mismatch',
          detail: 'the certificate does not belong to the key this appliance holds; send its key with it',
        });
      }
      key = held;
    }
    const fingerprint = cert.fingerprint256;
    writeFileAtomic(join(state.dataDir, 'tls.key'), key);
    writeFileAtomic(join(state.dataDir, 'tls.crt'), body.cert, 0o644);
    // New connections get the new certificate; this response still goes out on the old one.
    if (tls) (app.server as Server).setSecureContext({ cert: body.cert, key });
    state.addEvent({
      kind: 'certificate.installed',
      severity: 'info',
      message: `TLS certificate installed (${fingerprint})`,
    });
    return { installed: true, fingerprint, live: tls };
  });
}

function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}
