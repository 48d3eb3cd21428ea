// Appliance licensing and certificate upload (seed 003), paths exactly as in the seed.
import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { PageOf, PageQuery, parsePage, sendPage } from '../../http/pagination.js';
import { ErrorResponses, StrictObject } from '../../http/schemas.js';
import { badField } from '../../shared/app-error.js';
import { ApplianceIdParams, LicensingEntry } from '../fleet/fleet.schemas.js';
import type { LicensingService } from './licensing.service.js';

async function fileOf(request: FastifyRequest): Promise<Buffer> {
  const part = await request.file();
  if (part?.fieldname !== 'file') throw badField('file', 'send the file as form field "file"');
  return part.toBuffer();
}

/**
 * The certificate upload's form: `file` (the certificate, chain first, with or without its key)
 * and, optionally, `key` (the private key, as a file or a text field).
 */
async function certificateForm(request: FastifyRequest): Promise<{ file: Buffer; key?: Buffer }> {
  const out: { file?: Buffer; key?: Buffer } = {};
  for await (const part of request.parts({ limits: { files: 2, fields: 2, parts: 2 } })) {
    const name = part.fieldname;
    if (name !== 'file' && name !== 'key') {
      throw badField(name.slice(0, 64), 'unknown form field: send "file" and, optionally, "key"');
    }
    if (out[name] !== undefined) throw badField(name, 'sent more than once');
    out[name] = part.type === 'file' ? await part.toBuffer() : Buffer.from(String(part.value));
  }
  if (out.file === undefined) throw badField('file', 'send the certificate as form field "file"');
  return out.key === undefined ? { file: out.file } : { file: out.file, key: out.key };
}

export function licensingRoutes(licensing: LicensingService): FastifyPluginAsync {
  return async (app) => {
    await app.register(multipart, { limits: { files: 1, fileSize: 1024 * 1024, fields: 2, parts: 3 } });
    const r = app.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['appliances'];

    r.get(
      '/api/v1/license/',
      {
        config: { permission: 'license:read' },
        schema: {
          tags,
          summary: 'Appliance licences (and machine ids for appliances without one)',
          description:
            "Generates a machine id for every appliance that has none, then lists each appliance's licence: status (VALID, EXPIRED, UNLICENSED), product, machine id, serial number, type, company and dates.",
          querystring: StrictObject({ ...PageQuery }),
          response: { 200: PageOf(LicensingEntry), ...ErrorResponses(400, 401, 403) },
        },
      },
      async (request, reply) => {
        const page = parsePage(request.query);
        const { count, results } = await licensing.machineIds(actorOf(request), page.limit, page.offset);
        return sendPage(request, reply, page, count, results);
      },
    );

    r.get(
      '/api/v1/appliances/licensing/machine-id/',
      {
        config: { permission: 'license:write' },
        schema: {
          tags,
          summary: 'Regenerate every machine id',
          description:
            'Makes a new machine id for every appliance. Licences bound to the old ids are void: license them again.',
          querystring: StrictObject({ ...PageQuery }),
          response: { 200: PageOf(LicensingEntry), ...ErrorResponses(400, 401, 403) },
        },
      },
      async (request, reply) => {
        const page = parsePage(request.query);
        const { count, results } = await licensing.machineIds(
          actorOf(request),
          page.limit,
          page.offset,
          true,
        );
        return sendPage(request, reply, page, count, results);
      },
    );

    r.get(
      '/api/v1/appliances/licensing/',
      {
        config: { permission: 'license:read' },
        schema: {
          tags,
          summary: 'Licensing status of appliances',
          description: 'The licensing status of every connected appliance.',
          querystring: StrictObject({ ...PageQuery }),
          response: { 200: PageOf(LicensingEntry), ...ErrorResponses(400, 401, 403) },
        },
      },
      async (request, reply) => {
        const page = parsePage(request.query);
        const { count, results } = await licensing.list(page.limit, page.offset);
        return sendPage(request, reply, page, count, results);
      },
    );

    r.put(
      '/api/v1/appliances/licensing/',
      {
        config: { permission: 'license:write' },
        schema: {
          tags,
          summary: 'Install an appliance licence',
          description:
            "Form field `file`: a licence file. Its signature must verify with an issuer key in `<data dir>/license-keys/`; it is matched to its appliance by machine id and installed on that appliance's agent.",
          consumes: ['multipart/form-data'],
          response: { 200: LicensingEntry, ...ErrorResponses(400, 401, 403, 409, 413, 415, 503) },
        },
      },
      async (request) => licensing.install(actorOf(request), await fileOf(request)),
    );

    r.post(
      '/api/v1/appliances/certificate-request/:id/',
      {
        config: { permission: 'appliances:write' },
        schema: {
          tags,
          summary: 'Have a hub or worker make a key and a certificate request',
          description:
            'The appliance makes a new RSA-2048 key, which never leaves it, and answers a PKCS#10 certificate request (PEM) for ' +
            '`common_name` (and `alt_names`). Have a CA sign it, then upload the certificate alone with ' +
            'POST /api/v1/appliances/upload-certificate/{id}/ (`-F file=@cert.pem`). A new request replaces the previous key.',
          params: ApplianceIdParams,
          body: StrictObject(
            {
              common_name: Type.String({
                pattern: '^[A-Za-z0-9.*:-]{1,253}$',
                description:
                  'A host name for the certificate: letters, digits and . * : - (at most 253 characters)',
              }),
              alt_names: Type.Optional(
                Type.Array(
                  Type.String({
                    pattern: '^[A-Za-z0-9.*:-]{1,253}$',
                    description:
                      'A host name or IP address: letters, digits and . * : - (at most 253 characters)',
                  }),
                  {
                    maxItems: 20,
                    description: 'Further host names or IP addresses',
                  },
                ),
              ),
            },
            { examples: [{ common_name: 'hub-1.example.com', alt_names: ['192.0.2.21'] }] },
          ),
          response: {
            200: Type.Object(
              { csr: Type.String({ description: 'PKCS#10 request, PEM' }) },
              {
                examples: [
                  { csr: '-----BEGIN CERTIFICATE REQUEST-----\n...\n-----END CERTIFICATE REQUEST-----\n' },
                ],
              },
            ),
            ...ErrorResponses(400, 401, 403, 404, 409, 503),
          },
        },
      },
      async (request) =>
        licensing.requestCertificate(
          actorOf(request),
          request.params.id,
          request.body.common_name,
          request.body.alt_names ?? [],
        ),
    );

    r.post(
      '/api/v1/appliances/upload-certificate/:id/',
      {
        config: { permission: 'appliances:write' },
        schema: {
          tags,
          summary: 'Upload a TLS certificate to a hub or worker',
          description:
            'Form field `file`: PEM with the certificate (chain first). Its private key goes in the same file, in the form field `key`, ' +
            'or nowhere when the appliance already holds it: the key it made for POST /api/v1/appliances/certificate-request/{id}/, ' +
            'or the key of the certificate it serves (the key never leaves the appliance). The certificate is checked ' +
            'against the key before it is installed (400 naming `file` or `key` otherwise). The agent takes it into use at once; ' +
            'the manager pins the new certificate.\n\n' +
            "```\ncurl -k -X POST https://manager:8443/api/v1/appliances/upload-certificate/3/ -H 'Authorization: Token <token>' -F file=@cert.pem -F key=@cert.key\n```",
          consumes: ['multipart/form-data'],
          params: ApplianceIdParams,
          response: {
            200: Type.Object(
              { detail: Type.String(), fingerprint: Type.String() },
              { examples: [{ detail: 'certificate installed on worker-1', fingerprint: 'AB:CD:...' }] },
            ),
            ...ErrorResponses(400, 401, 403, 404, 409, 413, 415, 503),
          },
        },
      },
      async (request) => {
        const form = await certificateForm(request);
        return licensing.uploadCertificate(actorOf(request), request.params.id, form.file, form.key);
      },
    );
  };
}
