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
import { ErrorResponses, Nullable, StrictObject } from '../../http/schemas.js';
import { AppError, badField, notFound } from '../../shared/app-error.js';
import type { BackupService } from './backup.service.js';

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
          '`idle`. The archive holds every table (one consistent snapshot), uploaded files and certificates, and a ' +
          'manifest with checksums. With `passphrase` the archive is encrypted (AES-256-GCM). 409 while one runs.',
        body: Type.Optional(
          StrictObject(
            {
              passphrase: Type.Optional(
                Type.String({
                  minLength: 12,
                  maxLength: 1024,
                  description: 'Encrypt the archive with this passphrase',
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
      await backup.start(request, request.body?.passphrase);
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

  r.post(
    '/api/v1/backup/restore-upload/',
    {
      config: { permission: 'backup:write' },
      bodyLimit: maxRestoreBytes,
      schema: {
        tags: ['backup'],
        summary: 'Upload a backup and restore it',
        description:
          'multipart/form-data with `file` (the archive) and, for an encrypted archive, `passphrase`. The archive is ' +
          'checked completely first (manifest, version, sizes, SHA-256 of every entry, only plain files); when a check ' +
          'fails nothing changes (400). Then every table is replaced in one transaction and the files are swapped in. ' +
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
          { request },
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
