// Package store and appliance upgrades (seed 003, "Update appliances"), paths as in the seed.
import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { ErrorResponses, Nullable, StrictObject } from '../../http/schemas.js';
import { badField } from '../../shared/app-error.js';
import type { AuditService } from '../audit/audit.service.js';
import type { UpgradeService } from './upgrades.service.js';

const MAX_PACKAGE_BYTES = 256 * 1024 * 1024;

const PackageList = Type.Object(
  {
    bins: Type.Array(
      Type.Object({
        type: Type.String(),
        version: Type.String(),
        requires: Type.String(),
        sha256: Type.String(),
        size: Type.Integer(),
      }),
    ),
    used_space: Type.Integer({ description: 'Bytes used by the package store' }),
    allowed_space: Type.Integer({ description: 'Bytes still free where the store lives' }),
    is_ticloud_data_available: Type.Boolean({
      description: 'Always false: Steward does not download from a cloud',
    }),
  },
  {
    examples: [
      {
        bins: [
          {
            type: 'tiscale-worker',
            version: '5.4.0',
            requires: '5.0.0',
            sha256: 'ab'.repeat(32),
            size: 1024,
          },
        ],
        used_space: 1024,
        allowed_space: 10737418240,
        is_ticloud_data_available: false,
      },
    ],
  },
);

const PackageOut = Type.Object(
  {
    id: Type.Integer(),
    type: Type.String(),
    version: Type.String(),
    requires: Type.String(),
    sha256: Type.String(),
    size: Type.Integer(),
    publisher_fingerprint: Type.String(),
    created: Type.String(),
  },
  {
    examples: [
      {
        id: 1,
        type: 'tiscale-worker',
        version: '5.4.0',
        requires: '5.0.0',
        sha256: 'ab'.repeat(32),
        size: 1024,
        publisher_fingerprint: `sha256:${'cd'.repeat(32)}`,
        created: '2026-01-01T10:00:00.000Z',
      },
    ],
  },
);

const ApplianceNameBody = StrictObject(
  { appliance_name: Type.String({ minLength: 1, maxLength: 100 }) },
  { examples: [{ appliance_name: 'worker-1' }] },
);

const UpgradeStatusOut = Type.Object(
  {
    appliance_name: Type.String(),
    status: Type.String({ description: 'idle, pending, downloading, installing or error' }),
    version: Nullable(Type.String()),
    log: Type.String({ description: 'The upgrade log, or "Update log not available."' }),
  },
  {
    examples: [
      { appliance_name: 'worker-1', status: 'installing', version: '5.4.0', log: 'package received\n' },
    ],
  },
);

export function upgradesRoutes(upgrades: UpgradeService, audit: AuditService): FastifyPluginAsync {
  return async (app) => {
    await app.register(multipart, { limits: { files: 1, fileSize: MAX_PACKAGE_BYTES, fields: 2, parts: 3 } });
    const r = app.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['upgrades'];

    r.get(
      '/api/v1/package-management/',
      {
        config: { permission: 'upgrades:read' },
        schema: {
          tags,
          summary: 'List upgrade packages',
          description: "The packages in the manager's store (`bins`), the space they use and the space left.",
          response: { 200: PackageList, ...ErrorResponses(401, 403) },
        },
      },
      async () => upgrades.list(),
    );

    r.post(
      '/api/v1/package-management/upload/',
      {
        config: { permission: 'upgrades:write' },
        schema: {
          tags,
          summary: 'Upload an upgrade package',
          description:
            "Form field `file`: a Steward package (JSON envelope with manifest, base64 payload and the publisher's Ed25519 signature). The signature must verify with a key in `<data dir>/package-keys/`, and the payload must match the manifest sha256.",
          consumes: ['multipart/form-data'],
          response: { 201: PackageOut, ...ErrorResponses(400, 401, 403, 409, 413, 415) },
        },
      },
      async (request, reply) => {
        const part = await request.file();
        if (part?.fieldname !== 'file') throw badField('file', 'send the package as form field "file"');
        const data = await part.toBuffer();
        const out = await upgrades.addPackage(data, (trx, id, summary) =>
          audit.recordFor(trx, request, {
            action: 'package.added',
            targetType: 'package',
            targetId: id,
            summary,
            status: 201,
          }),
        );
        return reply.code(201).send(out);
      },
    );

    r.post(
      '/api/v1/package-management/:appliance_type/:version/',
      {
        config: { permission: 'upgrades:write' },
        schema: {
          tags,
          summary: 'Make a package ready',
          description:
            'In the seed this downloads a package from the vendor cloud. Steward has no cloud: it answers 200 when the package is in the store, 404 (saying how to add it) otherwise.',
          params: StrictObject({
            appliance_type: Type.String({ maxLength: 40 }),
            version: Type.String({ maxLength: 60 }),
          }),
          response: {
            200: Type.Object(
              { detail: Type.String(), type: Type.String(), version: Type.String(), sha256: Type.String() },
              {
                examples: [
                  { detail: 'ready', type: 'tiscale-worker', version: '5.4.0', sha256: 'ab'.repeat(32) },
                ],
              },
            ),
            ...ErrorResponses(400, 401, 403, 404),
          },
        },
      },
      async (request) => upgrades.prepare(request.params.appliance_type, request.params.version),
    );

    r.post(
      '/api/upgrade/start/',
      {
        config: { permission: 'upgrades:write' },
        schema: {
          tags,
          summary: 'Start an appliance upgrade',
          description:
            'Upgrades the named appliance to the newest package in the store for its type that its release may take. One appliance at a time across the fleet: a second start while one runs is a 409. Answers 202; follow it with POST /api/upgrade/status/.',
          body: ApplianceNameBody,
          response: { 202: UpgradeStatusOut, ...ErrorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request, reply) =>
        reply.code(202).send(await upgrades.start(request, request.body.appliance_name)),
    );

    r.post(
      '/api/upgrade/status/',
      {
        config: { permission: 'upgrades:read' },
        schema: {
          tags,
          summary: 'Upgrade status of an appliance',
          description:
            "The status of the appliance's latest upgrade (idle, pending, downloading, installing, error) and its log.",
          body: ApplianceNameBody,
          response: { 200: UpgradeStatusOut, ...ErrorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => upgrades.status(request.body.appliance_name),
    );
  };
}
