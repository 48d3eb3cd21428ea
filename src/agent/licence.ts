// Licence and TLS certificate install on the agent. The manager has already verified the
// licence's signature and matched it by machine id; the agent keeps it. A new certificate is
// checked against its key (sent with it, or one the agent holds), written atomically and taken
// into use at once (no restart).

import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:https';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import {
  type CertificateInstallAnswer,
  CertificateInstallRequest,
  type CertificateRequestAnswer,
  CertificateRequestRequest,
  type LicenceDocument,
  LicenceRequest,
} from '../contract/agent-protocol.js';
import { type AgentState, writeFileAtomic } from './state.js';
import { accepts, sendError } from './validate.js';

export function registerLicenceAndCertificateRoutes(app: FastifyInstance, state: AgentState, tls: boolean) {
  const licencePath = join(state.dataDir, 'licence.json');

  app.get('/agent/v1/license', async (): Promise<LicenceDocument> => {
    try {
      return JSON.parse(readFileSync(licencePath, 'utf8')) as LicenceDocument;
    } catch {
      return { license: null };
    }
  });

  app.put('/agent/v1/license', async (request, reply) => {
    const body = request.body;
    if (!accepts(reply, LicenceRequest, body, 'body')) return reply;
    const doc: LicenceDocument = {
      license: body.license,
      signature: body.signature,
      installed: new Date().toISOString(),
    };
    writeFileAtomic(licencePath, JSON.stringify(doc, null, 2));
    state.addEvent({ kind: 'license.installed', severity: 'info', message: 'licence installed' });
    return doc;
  });

  app.post('/agent/v1/certificate/request', async (request, reply) => {
    const body = request.body;
    if (!accepts(reply, CertificateRequestRequest, body, 'body')) return reply;
    const out = await makeCertificateRequest(body.common_name, [body.common_name, ...(body.alt_names ?? [])]);
    writeFileAtomic(join(state.dataDir, REQUEST_KEY), out.key);
    state.addEvent({
      kind: 'certificate.requested',
      severity: 'info',
      message: `certificate request for ${body.common_name}`,
    });
    const answer: CertificateRequestAnswer = { csr: out.csr };
    return answer;
  });

  // The certificate with its key, or the certificate alone when it belongs to the key this
  // agent already holds (the admin had a certificate issued for the key of the one it serves):
  // a key that never left the appliance is the better choice. Either way the pair is checked.
  app.put('/agent/v1/certificate', async (request, reply) => {
    const body = request.body;
    if (!accepts(reply, CertificateInstallRequest, body, 'body')) return reply;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(body.cert);
    } catch (err) {
      return sendError(reply, 400, {
        code: 'validation_failed',
        detail: `certificate not usable: ${(err as Error).message}`,
      });
    }
    let key: string;
    if (typeof body.key === 'string') {
      try {
        if (!cert.checkPrivateKey(createPrivateKey(body.key)))
          throw new Error('the key does not belong to the certificate');
      } catch (err) {
        return sendError(reply, 400, {
          code: 'validation_failed',
          detail: `certificate not usable: ${(err as Error).message}`,
        });
      }
      key = body.key;
    } else {
      // The key made for the last certificate request first, then the key being served.
      const held = [REQUEST_KEY, 'tls.key']
        .map((f) => readIfExists(join(state.dataDir, f)))
        .find((k) => k !== undefined && cert.checkPrivateKey(createPrivateKey(k)));
      if (held === undefined) {
        return sendError(reply, 400, {
          code: 'key_mismatch',
          detail: 'the certificate belongs to none of the keys this appliance holds; send its key with it',
        });
      }
      key = held;
    }
    const fingerprint = cert.fingerprint256;
    writeFileAtomic(join(state.dataDir, 'tls.key'), key);
    writeFileAtomic(join(state.dataDir, 'tls.crt'), body.cert, 0o644);
    rmSync(join(state.dataDir, REQUEST_KEY), { force: true });
    // New connections get the new certificate; this response still goes out on the old one.
    if (tls) (app.server as Server).setSecureContext({ cert: body.cert, key });
    state.addEvent({
      kind: 'certificate.installed',
      severity: 'info',
      message: `TLS certificate installed (${fingerprint})`,
    });
    const answer: CertificateInstallAnswer = { installed: true, fingerprint, live: tls };
    return answer;
  });
}

/** The key of the last certificate request, kept (0600) until a certificate is installed. */
const REQUEST_KEY = 'tls.request.key';

/**
 * A new RSA-2048 key, kept on the appliance, and a PKCS#10 request for it (PEM) that the admin
 * has a CA sign; the certificate then comes back alone through the certificate install.
 */
async function makeCertificateRequest(commonName: string, altNames: string[]) {
  const x509 = await import('@peculiar/x509');
  const alg = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: [{ CN: [commonName] }],
      keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.SubjectAlternativeNameExtension(
          altNames.map((n) =>
            isIP(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n },
          ),
        ),
      ],
    },
    webcrypto as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[1],
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({
    type: 'pkcs8',
    format: 'pem',
  });
  return { csr: csr.toString('pem'), key: String(key) };
}

function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}
