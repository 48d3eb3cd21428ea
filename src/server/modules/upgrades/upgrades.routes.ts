// Package store and appliance upgrades (seed 003, "Update appliances"), paths as in the seed.
import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { ErrorResponses, Nullable, StrictObject } from '../../http/schemas.js';
import { badField } from '../../shared/app-error.js';
import type { PackageDownloads } from './package-downloads.js';
import { MAX_PACKAGE_BYTES, type UpgradeService } from './upgrades.service.js';

const DownloadStatus = Type.Object(
  {
    status: Type.String({ description: 'downloading, verifying, done or error' }),
    received: Type.Integer({ description: 'Bytes received so far' }),
    total: Type.Integer({ description: 'Bytes the repository index announced' }),
    error: Nullable(Type.String({ description: 'Why the download failed (never the remote body)' })),
    started: Type.String(),
    finished: Nullable(Type.String()),
  },
  {
    examples: [
      {
        status: 'downloading',
        received: 524288,
        total: 1048576,
        error: null,
        started: '2026-01-01T10:00:00.000Z',
        finished: null,
      },
    ],
  },
);

const PackageList = Type.Object(
  {
    bins: Type.Array(
      Type.Object({
        type: Type.String(),
        version: Type.String(),
        requires: Type.String({ description: 'Lowest release it installs on; empty until downloaded' }),
        sha256: Type.String({
          description:
            'Stored packages: sha256 of the payload (manifest). Repository-only packages: sha256 of the package file as the index announces it',
        }),
        size: Type.Integer(),
        stored: Type.Boolean({ description: "Whether the package is in the manager's store" }),
        in_repository: Type.Boolean({ description: 'Whether the package repository offers it' }),
        download: Nullable(DownloadStatus, { description: 'The latest download of this package, if any' }),
      }),
    ),
    used_space: Type.Integer({ description: 'Bytes used by the package store' }),
    allowed_space: Type.Integer({ description: 'Bytes still free where the store lives' }),
    is_ticloud_data_available: Type.Boolean({
      description: 'Whether the package repository answered with its index (false: see `reason`)',
    }),
    reason: Nullable(
      Type.String({ description: 'Why the repository offers nothing: not set, unreachable, bad index' }),
    ),
    repository_url: Nullable(Type.String({ description: 'The package repository, when one is set' })),
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
            stored: true,
            in_repository: true,
            download: null,
          },
          {
            type: 'tiscale-worker',
            version: '5.5.0',
            requires: '',
            sha256: 'cd'.repeat(32),
            size: 2048,
            stored: false,
            in_repository: true,
            download: null,
          },
        ],
        used_space: 1024,
        allowed_space: 10737418240,
        is_ticloud_data_available: true,
        reason: null,
        repository_url: 'https://packages.example.com/steward/',
      },
    ],
  },
);

const Repository = Type.Object(
  {
    url: Type.String({
      description: 'https URL of the repository directory (index.json is under it); empty: none',
    }),
    ca_pem: Type.String({
      description:
        'PEM of the CA (or self-signed certificate) trusted for the repository instead of the system roots',
    }),
    fingerprint_sha256: Type.String({
      description: "SHA-256 fingerprint of the repository's certificate (hex, colons allowed); pins it",
    }),
  },
  {
    examples: [{ url: 'https://mirror.example.internal/steward/', ca_pem: '', fingerprint_sha256: '' }],
  },
);

const RepositoryBody = StrictObject(
  {
    url: Type.Optional(
      Type.String({ maxLength: 500, description: 'https URL; empty string: no repository' }),
    ),
    ca_pem: Type.Optional(
      Type.String({ maxLength: 20000, description: 'PEM certificate; empty string: system roots' }),
    ),
    fingerprint_sha256: Type.Optional(
      Type.String({ maxLength: 100, description: 'Certificate SHA-256 fingerprint; empty string: none' }),
    ),
  },
  { examples: [{ url: 'https://mirror.example.internal/steward/', fingerprint_sha256: 'ab'.repeat(32) }] },
);

const PackageParams = StrictObject({
  appliance_type: Type.String({
    maxLength: 40,
    description: 'a1000, tiscale-worker or tiscale-hub (or analyze, worker, hub)',
  }),
  version: Type.String({ maxLength: 60, description: 'Version as the repository lists it, e.g. 5.4.0' }),
});

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

export function upgradesRoutes(upgrades: UpgradeService, downloads: PackageDownloads): FastifyPluginAsync {
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
          description:
            "The packages in the manager's store and those the package repository offers (`bins`), the space the store uses and the space left. `is_ticloud_data_available` is true when the repository answered with its index; otherwise `reason` says why (none set, unreachable, TLS, bad index).",
          response: { 200: PackageList, ...ErrorResponses(401, 403) },
        },
      },
      async () => downloads.list(),
    );

    r.get(
      '/api/v1/package-management/repository/',
      {
        config: { permission: 'upgrades:read' },
        schema: {
          tags,
          summary: 'The package repository',
          description: 'Where packages are downloaded from (docs/fleet.md, "Package repository").',
          response: { 200: Repository, ...ErrorResponses(401, 403) },
        },
      },
      async () => downloads.getRepository(),
    );

    r.put(
      '/api/v1/package-management/repository/',
      {
        config: { permission: 'system:write' },
        schema: {
          tags,
          summary: 'Set the package repository',
          description:
            'Admin only. `url`: an https URL (a vendor repository or a local mirror) serving `index.json` and the packages it names. For a mirror with a self-signed certificate give `ca_pem` (its certificate or CA) or `fingerprint_sha256` (pins the certificate). Fields left out keep their value; an empty string clears one. Audited.',
          body: RepositoryBody,
          response: { 200: Repository, ...ErrorResponses(400, 401, 403) },
        },
      },
      async (request) => downloads.setRepository(actorOf(request), request.body),
    );

    r.get(
      '/api/v1/package-management/:appliance_type/:version/',
      {
        config: { permission: 'upgrades:read' },
        schema: {
          tags,
          summary: 'Download status of a package',
          description: 'Progress of the latest download of the package from the repository.',
          params: PackageParams,
          response: {
            200: Type.Object(
              { type: Type.String(), version: Type.String(), ...DownloadStatus.properties },
              {
                examples: [
                  {
                    type: 'tiscale-worker',
                    version: '5.4.0',
                    status: 'done',
                    received: 1048576,
                    total: 1048576,
                    error: null,
                    started: '2026-01-01T10:00:00.000Z',
                    finished: '2026-01-01T10:00:05.000Z',
                  },
                ],
              },
            ),
            ...ErrorResponses(400, 401, 403, 404),
          },
        },
      },
      async (request) => downloads.status(request.params.appliance_type, request.params.version),
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
        const out = await upgrades.addPackage(actorOf(request), data, 'api');
        return reply.code(201).send(out);
      },
    );

    const Prepared = Type.Object(
      {
        detail: Type.String(),
        type: Type.String(),
        version: Type.String(),
        status: Type.String({ description: '`done` (in the store) or `downloading`' }),
        sha256: Type.String(),
      },
      {
        examples: [
          {
            detail: 'downloading tiscale-worker 5.4.0 in the background',
            type: 'tiscale-worker',
            version: '5.4.0',
            status: 'downloading',
            sha256: 'ab'.repeat(32),
          },
        ],
      },
    );
    r.post(
      '/api/v1/package-management/:appliance_type/:version/',
      {
        config: { permission: 'upgrades:write' },
        schema: {
          tags,
          summary: 'Download a package from the repository',
          description:
            'Starts downloading the package from the package repository in the background (202); follow it with `GET /api/v1/package-management/{appliance_type}/{version}/`. The package enters the store only once its size and sha256 match the index and its publisher signature verifies with a key in `<data dir>/package-keys/`; otherwise nothing is stored and the status says why. 200 when the package is already in the store; 409 when no repository is set (the message says what to set); 404 when the repository does not offer it; 503 when the repository cannot be read; 413 over the size limit. The body is ignored (the seed sends `{}`).',
          params: PackageParams,
          response: {
            200: Prepared,
            202: Prepared,
            ...ErrorResponses(400, 401, 403, 404, 409, 413, 503),
          },
        },
      },
      async (request, reply) => {
        const out = await downloads.download(
          actorOf(request),
          request.params.appliance_type,
          request.params.version,
        );
        return reply.code(out.code).send(out.body);
      },
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
        reply.code(202).send(await upgrades.start(actorOf(request), request.body.appliance_name)),
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
