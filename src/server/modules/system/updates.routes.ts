// Available updates, read from the manager's package store (the fleet module's upgrade service
// keeps it; this module only reads it through the `PackageStoreReader` handed over in app.ts).
// Steward does not download updates from a cloud: a package is available once an admin put it in
// the store (POST /api/v1/package-management/upload/ or `steward package add`), which checked the
// publisher's signature and the payload's sha256.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { APPLIANCE_TYPES, compareReleases, normalizeApplianceType } from '../../../contract/fleet-fields.js';
import { ErrorResponses, StrictObject } from '../../http/schemas.js';
import { AppError, badField } from '../../shared/app-error.js';

/** One package of the store, as the upgrade service lists it. */
export interface StoredPackage {
  type: string;
  version: string;
  requires: string;
  sha256: string;
  size: number;
}

/** What this module needs of the package store: read-only. */
export interface PackageStoreReader {
  list(): Promise<{ bins: StoredPackage[] }>;
}

/** The newest package of each type (highest version), in the order of APPLIANCE_TYPES. */
export function newestByType(bins: readonly StoredPackage[]): StoredPackage[] {
  const best = new Map<string, StoredPackage>();
  for (const p of bins) {
    const cur = best.get(p.type);
    if (!cur || compareReleases(p.version, cur.version) > 0) best.set(p.type, p);
  }
  return APPLIANCE_TYPES.flatMap((t) => {
    const p = best.get(t);
    return p ? [p] : [];
  });
}

const packageFileName = (p: StoredPackage) => `${p.type}-${p.version}.stwpkg`;

const Nullable = <T extends ReturnType<typeof Type.String>>(s: T) => Type.Union([s, Type.Null()]);

const AvailableUpdate = Type.Object(
  {
    available: Type.Boolean({ description: 'Whether the store holds a package (of the asked type)' }),
    type: Nullable(Type.String({ description: 'Appliance type the package installs on' })),
    filename: Nullable(Type.String({ description: 'Package file name, `<type>-<version>.stwpkg`' })),
    sha1: Type.Null({
      description:
        "Kept for the seed's shape: Steward packages are identified by SHA-256 (`sha256`), so this is always null",
    }),
    sha256: Nullable(
      Type.String({ description: 'SHA-256 of the payload, checked when the package entered the store' }),
    ),
    version: Nullable(Type.String({ description: 'Version introduced by the update' })),
    requires: Nullable(
      Type.String({ description: 'Version an appliance must already run to take this update' }),
    ),
    size: Type.Union([Type.Integer(), Type.Null()], { description: 'Package size in bytes' }),
    time: Type.Null({
      description: 'Build time in the seed; Steward package manifests carry none, so this is always null',
    }),
  },
  {
    examples: [
      {
        available: true,
        type: 'tiscale-worker',
        filename: 'tiscale-worker-5.4.0.stwpkg',
        sha1: null,
        sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
        version: '5.4.0',
        requires: '5.0.0',
        size: 48213,
        time: null,
      },
    ],
  },
);

const Latest = Type.Object(
  {
    count: Type.Integer(),
    results: Type.Array(
      Type.Object({
        type: Type.String({ description: 'Appliance type' }),
        filename: Type.String({ description: '`<type>-<version>.stwpkg`' }),
        version: Type.String({ description: 'Highest version in the store for this type' }),
        requires: Type.String({ description: 'Version an appliance must already run to take it' }),
        sha256: Type.String(),
        size: Type.Integer({ description: 'Bytes' }),
      }),
    ),
  },
  {
    examples: [
      {
        count: 1,
        results: [
          {
            type: 'tiscale-worker',
            filename: 'tiscale-worker-5.4.0.stwpkg',
            version: '5.4.0',
            requires: '5.0.0',
            sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
            size: 48213,
          },
        ],
      },
    ],
  },
);

const TypeQuery = StrictObject({
  appliance_type: Type.Optional(
    Type.String({
      maxLength: 40,
      description:
        'Only this appliance type: `a1000`, `tiscale-worker`, `tiscale-hub` (or `analyze`, `worker`, `hub`)',
    }),
  ),
});

export const updatesRoutes: FastifyPluginAsync<{ store: () => PackageStoreReader | undefined }> = async (
  app,
  { store },
) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const packages = async () => {
    const s = store();
    if (!s) throw new AppError({ code: 'unavailable', message: 'the package store is not available' });
    return (await s.list()).bins;
  };

  r.get(
    '/api/v1/update-system/available-update/',
    {
      config: { permission: 'upgrades:read' },
      schema: {
        tags: ['upgrades'],
        summary: 'Get the available update',
        description:
          "The newest package in the manager's package store (highest version; with `appliance_type`, of that type). " +
          'Steward does not download updates: a package is available once it was uploaded to the store, which checked ' +
          'its publisher signature. `available: false` (every other field null) when the store holds none.',
        querystring: TypeQuery,
        response: { 200: AvailableUpdate, ...ErrorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const wanted = request.query.appliance_type;
      let type: string | undefined;
      if (wanted !== undefined) {
        type = normalizeApplianceType(wanted);
        if (!type) throw badField('query.appliance_type', 'must be a1000, tiscale-worker or tiscale-hub');
      }
      const newest = newestByType(await packages()).filter((p) => !type || p.type === type);
      const top = newest.reduce<StoredPackage | undefined>(
        (best, p) => (!best || compareReleases(p.version, best.version) > 0 ? p : best),
        undefined,
      );
      if (!top) {
        return {
          available: false,
          type: null,
          filename: null,
          sha1: null,
          sha256: null,
          version: null,
          requires: null,
          size: null,
          time: null,
        };
      }
      return {
        available: true,
        type: top.type,
        filename: packageFileName(top),
        sha1: null,
        sha256: top.sha256,
        version: top.version,
        requires: top.requires,
        size: top.size,
        time: null,
      };
    },
  );

  r.get(
    '/api/v1/update/latest/',
    {
      config: { permission: 'upgrades:read' },
      schema: {
        tags: ['upgrades'],
        summary: 'Latest version of each appliance type',
        description:
          "For each appliance type, the highest version in the manager's package store, which " +
          '`POST /api/upgrade/start/` installs on an appliance whose release may take it. Types without a package are left out.',
        response: { 200: Latest, ...ErrorResponses(401, 403, 503) },
      },
    },
    async () => {
      const results = newestByType(await packages()).map((p) => ({
        type: p.type,
        filename: packageFileName(p),
        version: p.version,
        requires: p.requires,
        sha256: p.sha256,
        size: p.size,
      }));
      return { count: results.length, results };
    },
  );
};
