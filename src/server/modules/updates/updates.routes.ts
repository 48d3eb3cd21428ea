// The manager's own update (seed 003, "Update the Manager"): what release of the manager the
// package store offers, and starting the update, which the host's apply hook carries out (see
// manager-update.ts). Appliance upgrades are the fleet module's (/api/v1/package-management/,
// /api/upgrade/start/).

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { ErrorResponses, Nullable, StrictObject } from '../../http/schemas.js';
import type { ManagerUpdater } from './manager-update.js';

const SHA = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

const UpdateStatus = Type.Object(
  {
    status: Type.Union(
      [Type.Literal('idle'), Type.Literal('running'), Type.Literal('done'), Type.Literal('error')],
      {
        description:
          'The last manager update started by this manager process: `idle` (none since it started), `running` (the apply hook runs), `done` (the hook exited 0), `error` (it failed)',
      },
    ),
    message: Nullable(
      Type.String({
        description: "What happened; on `error`, the hook's exit code and an excerpt of its stderr",
      }),
    ),
  },
  { additionalProperties: false },
);

const AvailableUpdate = Type.Object(
  {
    available: Type.Boolean({
      description:
        'Whether the store holds a `manager` package newer than the running manager whose `requires` it satisfies',
    }),
    current_version: Type.String({ description: 'The version of the running manager' }),
    reason: Nullable(Type.String({ description: 'Why no update is available (null when one is)' })),
    filename: Nullable(Type.String({ description: 'Package file name, `manager-<version>.stwpkg`' })),
    sha1: Type.Null({
      description:
        "Kept for the seed's shape: Steward packages are identified by SHA-256 (`sha256`), so this is always null",
    }),
    sha256: Nullable(
      Type.String({ description: 'SHA-256 of the payload, checked when the package entered the store' }),
    ),
    version: Nullable(Type.String({ description: 'Version introduced by the update' })),
    requires: Nullable(
      Type.String({ description: 'Version the manager must already run to take this update' }),
    ),
    size: Nullable(Type.Integer(), { description: 'Package size in bytes' }),
    time: Nullable(
      Type.String({
        description: 'Build time (ISO 8601) when the package manifest carries one (`created`), else null',
      }),
    ),
    update_status: UpdateStatus,
  },
  {
    additionalProperties: false,
    examples: [
      {
        available: true,
        current_version: '0.1.0',
        reason: null,
        filename: 'manager-0.2.0.stwpkg',
        sha1: null,
        sha256: SHA,
        version: '0.2.0',
        requires: '0.1.0',
        size: 48213,
        time: '2026-11-20T09:30:00.000Z',
        update_status: { status: 'idle', message: null },
      },
      {
        available: false,
        current_version: '0.1.0',
        reason: 'the package store holds no manager package',
        filename: null,
        sha1: null,
        sha256: null,
        version: null,
        requires: null,
        size: null,
        time: null,
        update_status: { status: 'idle', message: null },
      },
    ],
  },
);

const Started = Type.Object(
  {
    status: Type.Literal('started'),
    version: Type.String({ description: 'The manager version being installed' }),
  },
  { additionalProperties: false, examples: [{ status: 'started', version: '0.2.0' }] },
);

export const updatesRoutes: FastifyPluginAsync<{ updater: ManagerUpdater }> = async (app, { updater }) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/api/v1/update-system/available-update/',
    {
      config: { permission: 'upgrades:read' },
      schema: {
        tags: ['upgrades'],
        summary: 'Get the available manager update',
        description:
          "The newest release of the manager itself (a package of type `manager` in the package store) that is newer than the running version (`current_version`) and whose `requires` the running version satisfies. Steward does not download updates: a release is available once an admin uploaded it (`POST /api/v1/package-management/upload/` or `steward package add`), which checked its publisher's signature and sha256. Appliance packages are listed by `GET /api/v1/package-management/`. With no update, `available` is false, `reason` says why and the package fields are null. `update_status` is the state of the last update started with `POST /api/v1/update/latest/` on this manager process.",
        querystring: StrictObject({}),
        response: { 200: AvailableUpdate, ...ErrorResponses(400, 401, 403, 503) },
      },
    },
    async () => updater.available(),
  );

  r.post(
    '/api/v1/update/latest/',
    {
      config: { permission: 'upgrades:write' },
      schema: {
        tags: ['upgrades'],
        summary: 'Start the manager update',
        description:
          'Starts updating the manager to the release `GET /api/v1/update-system/available-update/` offers. Installing it is the host\'s job: the manager checks the stored package\'s sha256 again, then runs the apply hook of its server configuration (`STEWARD_APPLY_HOOK`) with the argument `manager-update` and `{"section": "manager-update", "value": {"version", "requires", "sha256", "package_path"}}` on standard input, in the background. Answers 202 at once; follow `update_status` of the available-update answer. 409 when an update is already running, when none is available (the message says why), when the stored file no longer matches its sha256, or when no apply hook is configured. The start and the outcome are in the audit log (`manager_update.started`, `manager_update.finished`, `manager_update.failed`).',
        response: { 202: Started, ...ErrorResponses(401, 403, 409, 503) },
      },
    },
    async (request, reply) => reply.code(202).send(await updater.start(actorOf(request))),
  );
};
