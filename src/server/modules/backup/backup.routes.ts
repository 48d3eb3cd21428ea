// Backup and restore at the seed's paths.

import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { MultipartFile } from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { ErrorResponses, Nullable, StrictObject } from '../../http/schemas.js';
import { AppError, badField, notFound } from '../../shared/app-error.js';
import { type BackupService, MIN_PASSPHRASE } from './backup.service.js';

const PassphraseState = Type.Object(
  {
    passphrase_set: Type.Boolean({
      description: 'Whether a backup passphrase is set (the value is never shown)',
    }),
    passphrase_set_at: Nullable(Type.String({ format: 'date-time' })),
  },
  { examples: [{ passphrase_set: true, passphrase_set_at: '2026-11-24T10:00:00.000Z' }] },
);

const Status = Type.Object(
  {
    status: Type.String({ description: '`none`, `running`, `success`, `error` or `restoring`' }),
    message: Type.String({
      description: '`idle` when nothing is running: the latest backup is ready to download',
    }),
    backup_filename: Type.String({
      description: 'Name of the latest complete backup (empty when there is none)',
    }),
    created_at: Nullable(Type.String({ format: 'date-time' })),
    size: Nullable(Type.Integer(), { description: 'Bytes' }),
  },
  {
    examples: [
      {
        status: 'success',
        message: 'idle',
        backup_filename: 'steward-backup-20261124T101500Z.tar.gz',
        created_at: '2026-11-24T10:15:03.000Z',
        size: 1048576,
      },
    ],
  },
);

export const backupRoutes: FastifyPluginAsync<{ backup: BackupService; maxRestoreBytes?: number }> = async (
  app,
  opts,
) => {
  const { backup } = opts;
  const maxRestoreBytes = opts.maxRestoreBytes ?? 64 * 1024 ** 3;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/api/v1/backup/create/',
    {
      config: { permission: 'backup:write' },
      schema: {
        tags: ['backup'],
        summary: 'Create a backup',
        description:
          'Starts a backup in the background and answers 202 at once; poll `GET /api/v1/backup/` until `message` is ' +
          '`idle`. The archive holds every table (one consistent snapshot), uploaded files and certificates, the ' +
          "manager's secret key, and a manifest with checksums, and is always encrypted (AES-256-GCM, key from the " +
          'backup passphrase through scrypt). Without a body it uses the passphrase an admin set with ' +
          '`POST /api/v1/config/backup/`; before one is set the answer is 409 naming that setting. `passphrase` in ' +
          'the body encrypts this one archive with another passphrase instead. 409 also while a backup or restore runs.',
        body: Type.Optional(
          StrictObject(
            {
              passphrase: Type.Optional(
                Type.String({
                  minLength: 12,
                  maxLength: 1024,
                  description:
                    'Encrypt this archive with this passphrase instead of the backup passphrase set in `/api/v1/config/backup/`',
                }),
              ),
            },
            { examples: [{}] },
          ),
        ),
        response: { 202: Status, ...ErrorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      await backup.start(actorOf(request), request.body?.passphrase);
      reply.code(202);
      return backup.status();
    },
  );

  r.get(
    '/api/v1/backup/',
    {
      config: { permission: 'backup:read' },
      schema: {
        tags: ['backup'],
        summary: 'Backup status',
        description:
          'The current backup status and the latest complete backup. `message: "idle"` means the backup is ready.',
        response: { 200: Status, ...ErrorResponses(401, 403) },
      },
    },
    async () => backup.status(),
  );

  r.get(
    '/api/v1/backup/download/',
    {
      config: { permission: 'backup:read' },
      schema: {
        tags: ['backup'],
        summary: 'Download the latest backup',
        description:
          'Streams the latest complete backup archive (`application/gzip`). 404 when there is none.',
        produces: ['application/gzip'],
        response: {
          200: Type.String({ description: 'The archive', contentMediaType: 'application/gzip' }),
          ...ErrorResponses(401, 403, 404),
        },
      },
    },
    async (_request, reply) => {
      const l = await backup.latest();
      if (!l) throw notFound('backup');
      reply
        .type('application/gzip')
        .header('content-length', String(l.size))
        .header('content-disposition', `attachment; filename="${l.name}"`);
      return reply.send(createReadStream(join(backup.dir, l.name)) as never);
    },
  );

  r.get(
    '/api/v1/config/backup/',
    {
      config: { permission: 'backup:read' },
      schema: {
        tags: ['backup'],
        summary: 'Backup settings',
        description:
          'Whether the backup passphrase is set, and when. The passphrase is write-only: it is never returned, and ' +
          'the manager does not keep it (only the key derived from it, sealed with its secret key).',
        response: { 200: PassphraseState, ...ErrorResponses(401, 403) },
      },
    },
    async () => backup.passphraseStatus(),
  );

  r.post(
    '/api/v1/config/backup/',
    {
      config: { permission: 'backup:write' },
      schema: {
        tags: ['backup'],
        summary: 'Set the backup passphrase',
        description:
          'Sets (or changes) the passphrase every backup is encrypted with: AES-256-GCM with a key derived through ' +
          'scrypt (N=2^17, r=8, p=1, a random salt that travels in each archive header). The manager stores only the ' +
          'derived key, sealed with its secret key, so scheduled and API backups need nobody present; restoring ' +
          'on another machine, or an archive sealed with an earlier passphrase, asks for the passphrase. Archives made before a change keep the passphrase they were made with. ' +
          'Keep it outside the manager: without it no archive can be restored.',
        body: StrictObject(
          {
            passphrase: Type.String({
              minLength: MIN_PASSPHRASE,
              maxLength: 1024,
              description: `The backup passphrase (write-only, ${MIN_PASSPHRASE} characters or more)`,
            }),
          },
          { examples: [{ passphrase: 'correct horse battery staple' }] },
        ),
        response: { 200: PassphraseState, ...ErrorResponses(400, 401, 403) },
      },
    },
    async (request) => backup.setPassphrase(actorOf(request), request.body.passphrase),
  );

  r.post(
    '/api/v1/backup/restore-upload/',
    {
      config: { permission: 'backup:write' },
      bodyLimit: maxRestoreBytes,
      schema: {
        tags: ['backup'],
        summary: 'Upload a backup and restore it',
        description:
          'multipart/form-data with `file` (the archive) and `passphrase` (the backup passphrase it was made with; ' +
          "this is all a fresh machine needs). Without `passphrase` (the seed's `-F file=@...` alone), the backup " +
          'key set on this manager opens the archives it sealed with its current passphrase, and only those. A wrong passphrase is a 400 naming `body.passphrase`, found from the ' +
          'archive header before anything is decrypted. The manifest comes first and is checked before any entry is ' +
          'written (format, schema version, names, sizes); an archive that would expand past the limits or the free ' +
          'disk space is a 413. Then every entry is checked (exact size, SHA-256, only plain files); when a check ' +
          'fails nothing changes. Then every table is replaced in one transaction and the files are swapped in. ' +
          'Configuration must be applied to configuration groups again afterwards (`changes_awaiting_apply`).',
        consumes: ['multipart/form-data'],
        response: {
          200: Type.Object(
            {
              detail: Type.String(),
              created_at: Type.String({
                format: 'date-time',
                description: 'When the restored backup was made',
              }),
              tables: Type.Integer(),
              files: Type.Integer(),
              restart_required: Type.Boolean({
                description:
                  'The backup came with another secret key: restart so that stored secrets can be read',
              }),
            },
            {
              examples: [
                {
                  detail: 'restored; apply configuration to configuration groups again',
                  created_at: '2026-11-24T10:15:03.000Z',
                  tables: 12,
                  files: 3,
                  restart_required: false,
                },
              ],
            },
          ),
          ...ErrorResponses(400, 401, 403, 409, 413, 415),
        },
      },
    },
    async (request) => {
      if (!request.isMultipart()) {
        throw new AppError({
          code: 'unsupported_media_type',
          message: 'this route expects multipart/form-data',
        });
      }
      await mkdir(backup.dir, { recursive: true });
      const tmp = join(backup.dir, `.upload-${randomBytes(6).toString('hex')}`);
      let gotFile = false;
      let passphrase: string | undefined;
      try {
        for await (const part of request.parts({ limits: { fileSize: maxRestoreBytes } })) {
          if (part.type === 'file') {
            const f = part as MultipartFile;
            if (f.fieldname !== 'file' || gotFile) {
              f.file.resume();
              throw badField(`body.${f.fieldname}`, 'send the archive once, as `file`');
            }
            await pipeline(f.file, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
            if (f.file.truncated)
              throw new AppError({ code: 'payload_too_large', message: 'the archive is too large' });
            gotFile = true;
          } else if (part.fieldname === 'passphrase') {
            passphrase = String(part.value);
          } else {
            throw badField(`body.${part.fieldname}`, 'unknown field');
          }
        }
        if (!gotFile) throw badField('body.file', 'is required');
        const { manifest, restartRequired } = await backup.restore(
          tmp,
          actorOf(request),
          passphrase ? { passphrase } : {},
        );
        return {
          detail: restartRequired
            ? 'restored; restart the manager so that it uses the restored secret key'
            : 'restored; apply configuration to configuration groups again',
          created_at: manifest.created_at,
          tables: manifest.tables.length,
          files: manifest.files.length,
          restart_required: restartRequired,
        };
      } finally {
        await rm(tmp, { force: true });
      }
    },
  );
};
