// Configuration groups, hub groups and individual Spectra Analyze configuration (seed 003,
// "Configure appliances"), paths exactly as the seed shows them, both PUT and PATCH variants.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { PageOf, PageQuery, parsePage, sendPage } from '../../http/pagination.js';
import { ErrorResponses, StrictObject } from '../../http/schemas.js';
import { AppError, badField } from '../../shared/app-error.js';
import {
  ApplyBody,
  ApplyResponse,
  ContentBody,
  CreateGroupBody,
  DiffResponse,
  Group,
  GroupParams,
  HubGroupBody,
  HubSaveBody,
  HubUpdateBody,
  IndividualConfig,
  IndividualParams,
  SaveBody,
} from '../fleet/fleet.schemas.js';
import { HUB_ONLY_SETTINGS } from './config.hub-groups.js';
import type { ConfigService } from './config.service.js';

const modeOf = (request: FastifyRequest) => (request.method === 'PATCH' ? 'patch' : 'put');

function rejectHubSettings(body: Record<string, unknown>) {
  const sent = HUB_ONLY_SETTINGS.filter((k) => k in body);
  if (sent.length > 0) {
    throw new AppError({
      code: 'validation_failed',
      message: `hub-only settings are fixed when the hub group is created: ${sent.join(', ')}`,
      errors: sent.map((k) => ({
        field: `body.${k}`,
        message: 'fixed at creation; create a new hub group to change it',
      })),
    });
  }
}

export function configRoutes(config: ConfigService): FastifyPluginAsync {
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['configuration'];

    r.post(
      '/api/v1/config-group/create/',
      {
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: 'Create a configuration group',
          description:
            'Creates an empty configuration group (for workers and Spectra Analyze). Add appliances and content with save.',
          body: CreateGroupBody,
          response: { 201: Group, ...ErrorResponses(400, 401, 403, 409) },
        },
      },
      async (request, reply) =>
        reply.code(201).send(await config.create(actorOf(request), request.body.name)),
    );

    for (const method of ['PUT', 'PATCH'] as const) {
      const verb = method === 'PUT' ? 'replaces' : 'merges into';
      r.route({
        method,
        url: '/api/v1/config-group/save/:name/',
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: `Save group members and/or configuration (${method})`,
          description: `\`appliances\` and/or \`content\`; ${method} ${verb} what is stored (null removes a field). Saving content makes a new revision and marks members \`changes_awaiting_apply\`; nothing reaches an appliance until it is applied. An appliance is in at most one group (409 otherwise).`,
          params: GroupParams,
          body: SaveBody,
          response: { 200: Group, ...ErrorResponses(400, 401, 403, 404, 409) },
        },
        handler: async (request) => {
          const { name } = request.params as { name: string };
          return config.save(
            actorOf(request),
            name,
            request.body as { appliances?: string[]; content?: Record<string, unknown> },
            modeOf(request),
            'standard',
          );
        },
      });

      r.route({
        method,
        url: '/api/v1/config-group/content/:name/',
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: `Save group configuration (${method})`,
          description: `Saves configuration without applying it; ${method} ${verb} the stored content. Unknown fields and bad values are a 400 naming each (\`body.content.<field>\`). Secret fields are write-only.`,
          params: GroupParams,
          body: SaveBody,
          response: { 200: Group, ...ErrorResponses(400, 401, 403, 404, 409) },
        },
        handler: async (request) => {
          const { name } = request.params as { name: string };
          return config.save(
            actorOf(request),
            name,
            request.body as { appliances?: string[]; content?: Record<string, unknown> },
            modeOf(request),
            'standard',
          );
        },
      });

      r.route({
        method,
        url: '/api/v1/config-group/update/:name/',
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: `Apply the group configuration (${method})`,
          description:
            'Applies the latest saved revision to the named appliances of the group (all members when the list is empty). Answers 202 at once; each appliance moves to `pending`, then `done`, `error` or `unsupported` (see GET /api/v1/appliances/).',
          params: GroupParams,
          body: ApplyBody,
          response: { 202: ApplyResponse, ...ErrorResponses(400, 401, 403, 404, 409) },
        },
        handler: async (request, reply) => {
          const { name } = request.params as { name: string };
          const body = request.body as { applyconfiguration: string[] };
          return reply
            .code(202)
            .send(await config.apply(actorOf(request), name, body.applyconfiguration, 'standard'));
        },
      });

      r.route({
        method,
        url: '/api/v1/appliances/content/:appliance_id/save/',
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: `Save individual Spectra Analyze configuration (${method})`,
          description: `Saves (does not apply) the configuration of one Spectra Analyze appliance that is not in a group; ${method} ${verb} the stored content.`,
          params: IndividualParams,
          body: ContentBody,
          response: { 200: IndividualConfig, ...ErrorResponses(400, 401, 403, 404, 409) },
        },
        handler: async (request) => {
          const { appliance_id } = request.params as { appliance_id: number };
          const body = request.body as { content: Record<string, unknown> };
          return config.saveIndividual(actorOf(request), appliance_id, body.content, modeOf(request));
        },
      });
    }

    r.get(
      '/api/v1/config-group/retrieve/:name/',
      {
        config: { permission: 'configuration:read' },
        schema: {
          tags,
          summary: 'Get a group',
          description:
            "The group: members, saved content (secrets as `<field>_set`), revision and each member's status.",
          params: GroupParams,
          response: { 200: Group, ...ErrorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => config.retrieve(request.params.name),
    );

    r.get(
      '/api/v1/config-group/diff/:name/',
      {
        config: { permission: 'configuration:read' },
        schema: {
          tags,
          summary: 'What an apply would change',
          description:
            'Per member, the fields that applying the latest revision would add, change or remove compared with what it last took; `changes` compares with `from` (default: the newest revision any member took). Secret values are masked.',
          params: GroupParams,
          querystring: StrictObject({ from: Type.Optional(Type.Integer({ minimum: 0 })) }),
          response: { 200: DiffResponse, ...ErrorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => config.diff(request.params.name, request.query.from),
    );

    r.get(
      '/api/v1/config-group/list/',
      {
        config: { permission: 'configuration:read' },
        schema: {
          tags,
          summary: 'List groups',
          description: 'Configuration groups and hub groups, by name.',
          querystring: StrictObject({ ...PageQuery }),
          response: { 200: PageOf(Group), ...ErrorResponses(400, 401, 403) },
        },
      },
      async (request, reply) => {
        const page = parsePage(request.query);
        const { count, results } = await config.list(page.limit, page.offset);
        return sendPage(request, reply, page, count, results);
      },
    );

    r.delete(
      '/api/v1/config-group/delete/:name/',
      {
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: 'Delete a group',
          description:
            'Deletes the group; its appliances become `no_configuration_group` and keep running their last configuration.',
          params: GroupParams,
          response: { 204: Type.Null({ description: 'Deleted' }), ...ErrorResponses(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        await config.remove(actorOf(request), request.params.name);
        return reply.code(204).send(null);
      },
    );

    r.post(
      '/api/v1/appliances/content/:appliance_id/apply/',
      {
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: 'Apply individual Spectra Analyze configuration',
          description:
            'Applies the saved individual configuration in the background (202); follow `configuration_status`.',
          params: IndividualParams,
          response: { 202: ApplyResponse, ...ErrorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request, reply) =>
        reply.code(202).send(await config.applyIndividual(actorOf(request), request.params.appliance_id)),
    );

    r.post(
      '/api/v1/tiscale-hub-group/create/',
      {
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: 'Create a hub group',
          description:
            'Creates a hub group with its hub-only settings, which cannot change later: router ids, primary and fallback hubs (appliance names, not URLs), VRRP (virtual router id 1 to 255, password, virtual address) and the worker tokens (write-only). The named hubs join the group.',
          body: HubGroupBody,
          response: { 201: Group, ...ErrorResponses(400, 401, 403, 409) },
        },
      },
      async (request, reply) =>
        reply.code(201).send(await config.createHubGroup(actorOf(request), request.body)),
    );

    for (const method of ['PUT', 'PATCH'] as const) {
      r.route({
        method,
        url: '/api/v1/tiscale-hub-group/save/:name/',
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: `Save hub group configuration (${method})`,
          description:
            method === 'PUT'
              ? 'Like PUT /api/v1/config-group/content/{name}/ for a hub group: `appliances` replaces the members, `content` the stored configuration. Hub-only settings are fixed at creation: sending one is a 400.'
              : 'Merges into the hub group: `appliances` are added to its members (the others stay), `content` is merged into the stored configuration (null removes a field). Adding one appliance this way cannot drop a member another admin added meanwhile (the group is locked while it is saved). Hub-only settings are fixed at creation: sending one is a 400.',
          params: GroupParams,
          body: HubSaveBody,
          response: { 200: Group, ...ErrorResponses(400, 401, 403, 404, 409) },
        },
        handler: async (request) => {
          rejectHubSettings(request.body);
          return config.save(
            actorOf(request),
            (request.params as { name: string }).name,
            request.body as { appliances?: string[]; content?: Record<string, unknown> },
            modeOf(request),
            'hub',
          );
        },
      });
    }

    r.patch(
      '/api/v1/tiscale-hub-group/update/:name/',
      {
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: 'Apply hub group configuration',
          description:
            'Merges `content` (if any) into the hub group, then applies the latest revision to `appliances` (all members when absent or empty). ' +
            'Equivalent to PUT /api/v1/config-group/update/{name}/, so `{"applyconfiguration": [...]}` is taken as well; sending both lists is a 400. ' +
            'Answers 202; the rollout runs in the background.',
          params: GroupParams,
          body: HubUpdateBody,
          response: { 202: ApplyResponse, ...ErrorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request, reply) => {
        rejectHubSettings(request.body);
        const body = request.body as {
          appliances?: string[];
          applyconfiguration?: string[];
          content?: Record<string, unknown>;
        };
        if (body.appliances !== undefined && body.applyconfiguration !== undefined) {
          throw badField('body.applyconfiguration', 'send either appliances or applyconfiguration, not both');
        }
        if (body.content)
          await config.save(actorOf(request), request.params.name, { content: body.content }, 'patch', 'hub');
        const targets = body.applyconfiguration ?? body.appliances;
        return reply
          .code(202)
          .send(await config.apply(actorOf(request), request.params.name, targets, 'hub'));
      },
    );
  };
}
