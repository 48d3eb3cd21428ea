// The manager licence at the seed's paths, and its status.

import type { MultipartFile } from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { ErrorResponses, Nullable, StringEnum } from '../../http/schemas.js';
import { AppError, badField } from '../../shared/app-error.js';
import type { LicenseService } from './license.service.js';

const NullableText = (description: string) => Nullable(Type.String(), { description });
const Status = Type.Object(
  {
    status: StringEnum(['VALID', 'EXPIRED', 'INVALID']),
    reason: Type.String({ description: 'Why the licence is not VALID (empty when it is)' }),
    machineId: Type.String(),
    product: NullableText('Licensed product'),
    company: NullableText('Licensee'),
    serialNumber: NullableText('Serial number'),
    licenseType: NullableText('Licence type'),
    creationDate: NullableText('YYYY-MM-DD'),
    expiryDate: NullableText('YYYY-MM-DD; valid through this day (UTC)'),
    limits: Type.Record(Type.String(), Type.Number(), { description: 'e.g. `{ "appliances": 100 }`' }),
  },
  {
    examples: [
      {
        status: 'VALID',
        reason: '',
        machineId: '6f1c0a9e3b2d4c5e8f7a6b5c4d3e2f10',
        product: 'STEWARD_MANAGER',
        company: 'Example Corp',
        serialNumber: '148d7a56-176d-413b-9eb5-c62f6f5bb67a',
        licenseType: 'SUBSCRIPTION',
        creationDate: '2026-11-01',
        expiryDate: '2027-11-01',
        limits: { appliances: 100 },
      },
    ],
  },
);

export const licenseRoutes: FastifyPluginAsync<{ license: LicenseService }> = async (app, { license }) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/api/v1/license/machine-id/generate/',
    {
      config: { permission: 'license:write' },
      schema: {
        tags: ['license'],
        summary: 'Generate a machine id',
        description:
          'A new machine id for this manager. Send it to the vendor to get a licence; a licence bound to the previous id stops being valid.',
        response: {
          200: Type.Object(
            { machine_id: Type.String() },
            { examples: [{ machine_id: '6f1c0a9e3b2d4c5e8f7a6b5c4d3e2f10' }] },
          ),
          ...ErrorResponses(401, 403, 503),
        },
      },
    },
    async (request) => ({ machine_id: await license.generateMachineId(actorOf(request)) }),
  );

  r.put(
    '/api/v1/license/upload/',
    {
      config: { permission: 'license:write' },
      schema: {
        tags: ['license'],
        summary: 'Upload a licence file',
        description:
          'multipart/form-data with `file`: a licence signed by the vendor (Ed25519) for this machine id. A licence that ' +
          'is not VALID (bad signature, other machine, expired) is refused with 400 and nothing changes.',
        consumes: ['multipart/form-data'],
        response: { 200: Status, ...ErrorResponses(400, 401, 403, 413, 415) },
      },
    },
    async (request) => {
      if (!request.isMultipart()) {
        throw new AppError({
          code: 'unsupported_media_type',
          message: 'this route expects multipart/form-data',
        });
      }
      let raw: Buffer | undefined;
      for await (const part of request.parts({ limits: { fileSize: 256 * 1024 } })) {
        if (part.type !== 'file') throw badField(`body.${part.fieldname}`, 'unknown field');
        const f = part as MultipartFile;
        if (f.fieldname !== 'file' || raw) {
          f.file.resume();
          throw badField(`body.${f.fieldname}`, 'send one licence file as `file`');
        }
        raw = await f.toBuffer();
      }
      if (!raw) throw badField('body.file', 'is required');
      return license.upload(actorOf(request), raw);
    },
  );

  r.get(
    '/api/v1/license/manager/',
    {
      config: { permission: 'license:read' },
      schema: {
        tags: ['license'],
        summary: "The manager's licence status",
        description:
          '`VALID`, `EXPIRED` or `INVALID` (with the reason), the machine id, product, expiry and limits.',
        response: { 200: Status, ...ErrorResponses(401, 403) },
      },
    },
    async () => license.status(),
  );
};
