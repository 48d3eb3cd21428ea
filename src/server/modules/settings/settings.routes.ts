// GET and POST for every settings section at the seed's paths, and the SMTP test message.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { ErrorResponses, StrictObject } from '../../http/schemas.js';
import { AppError } from '../../shared/app-error.js';
import { ldapBind } from '../directory/ldap-bind.js';
import type { Mailer } from '../notifications/mailer.js';
import { responseSchema } from './sections.js';
import type { SystemSettings } from './settings.service.js';

export interface SettingsRoutesOptions {
  service: SystemSettings;
  mailer: Mailer;
}

export const settingsRoutes: FastifyPluginAsync<SettingsRoutesOptions> = async (app, { service, mailer }) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  for (const def of service.sections) {
    const tag = def.name === 'license_cloud' ? 'license' : 'system';
    const readPermission = tag === 'license' ? 'license:read' : 'system:read';
    const writePermission = tag === 'license' ? 'license:write' : 'system:write';
    const Out = responseSchema(def);
    r.get(
      def.path,
      {
        config: { permission: readPermission },
        schema: {
          tags: [tag],
          summary: `Get: ${def.summary}`,
          description: `${def.description} Secrets are never returned; \`<field>_set\` tells whether one is stored.`,
          response: { 200: Out, ...ErrorResponses(401, 403) },
        },
      },
      async () => service.get(def.name),
    );
    r.post(
      def.path,
      {
        config: { permission: writePermission },
        schema: {
          tags: [tag],
          summary: `Change: ${def.summary}`,
          description: `${def.description} Only the fields sent change. The change is audited and takes effect without a restart.`,
          body: { ...def.body, examples: [def.example] },
          response: { 200: Out, ...ErrorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => service.update(actorOf(request), def.name, request.body as Record<string, unknown>),
    );
  }

  r.post(
    '/api/v1/config/smtp/test/',
    {
      config: { permission: 'system:write' },
      schema: {
        tags: ['system'],
        summary: 'Send a test email',
        description:
          'Sends a short message through the configured SMTP relay to `to` and reports whether the relay accepted it. ' +
          'Refused (409) when SMTP is not configured, 503 when the relay is unreachable or refuses.',
        body: StrictObject(
          { to: Type.String({ format: 'email', maxLength: 300, description: 'Recipient' }) },
          { examples: [{ to: 'admin@example.com' }] },
        ),
        response: {
          200: Type.Object(
            { detail: Type.String(), message_id: Type.String(), accepted: Type.Array(Type.String()) },
            {
              examples: [
                {
                  detail: 'message accepted by the relay',
                  message_id: '<abc@steward>',
                  accepted: ['admin@example.com'],
                },
              ],
            },
          ),
          ...ErrorResponses(400, 401, 403, 409, 503),
        },
      },
    },
    async (request) => {
      const { to } = request.body;
      const info = await mailer.send({
        to,
        subject: 'Steward test message',
        text: `This is a test message from the Steward manager, requested by ${request.principal?.username ?? 'an administrator'}.`,
      });
      return { detail: 'message accepted by the relay', message_id: info.messageId, accepted: info.accepted };
    },
  );

  r.post(
    '/api/v1/config/directory/test/',
    {
      config: { permission: 'system:write' },
      schema: {
        tags: ['system'],
        summary: 'Test the LDAP connection',
        description:
          'Connects to the stored `ldap_url` (ldaps://, or ldap:// with StartTLS when `ldap_start_tls`) and performs a simple bind with the stored bind DN ' +
          'and password. `ok: false` with the LDAP result code when the directory refuses the bind (49: invalid ' +
          'credentials); 409 when LDAP is not configured; 503 when the directory cannot be reached.',
        response: {
          200: Type.Object(
            { ok: Type.Boolean(), result_code: Type.Integer(), detail: Type.String() },
            { examples: [{ ok: true, result_code: 0, detail: 'bind succeeded' }] },
          ),
          ...ErrorResponses(401, 403, 409, 503),
        },
      },
    },
    async () => {
      const d = await service.internal('directory');
      if (!d.ldap_url)
        throw new AppError({ code: 'conflict', message: 'LDAP is not configured: set ldap_url first' });
      try {
        const res = await ldapBind(
          String(d.ldap_url),
          String(d.ldap_bind_dn ?? ''),
          String(d.ldap_bind_password ?? ''),
          { startTls: d.ldap_start_tls === true },
        );
        return {
          ok: res.ok,
          result_code: res.resultCode,
          detail: res.ok
            ? 'bind succeeded'
            : `the directory refused the bind (result ${res.resultCode}${res.message ? `: ${res.message.slice(0, 200)}` : ''})`,
        };
      } catch (err) {
        throw new AppError({
          code: 'unavailable',
          message: `could not reach the directory: ${(err as Error).message}`,
          cause: err,
        });
      }
    },
  );
};
