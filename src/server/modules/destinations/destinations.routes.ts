// Destination lists (seed 001, Cloudlock): /api/v1/destination-lists/ with entries, limit/offset
// (or page/page_size) pagination, every credential the API accepts (Bearer included).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { PageOf, PageQuery, parsePage, SearchQuery, sendPage } from '../../http/pagination.js';
import { ErrorResponses, StrictObject } from '../../http/schemas.js';
import {
  CreateListBody,
  DestinationList,
  EntriesBody,
  EntriesChanged,
  Entry,
  EntryParams,
  ListParams,
  RemoveEntriesBody,
  UpdateListBody,
} from './destinations.schemas.js';
import type { DestinationsService } from './destinations.service.js';

const REFERENCE =
  'A configuration group uses a list by naming it in its content: `"destinations__lists": ["office-egress"]`. On apply the entries are sent merged into `destinations__allowed_ips` (addresses) and `destinations__allowed_cidrs` (networks).';

export function destinationsRoutes(lists: DestinationsService): FastifyPluginAsync {
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['configuration'];

    r.get(
      '/api/v1/destination-lists/',
      {
        config: { permission: 'configuration:read' },
        schema: {
          tags,
          summary: 'List destination lists',
          description: `Named lists of IP addresses and CIDR networks, by name, with \`limit\`/\`offset\` (Cloudlock) or \`page\`/\`page_size\`. \`search\` matches names. ${REFERENCE}`,
          querystring: StrictObject({ ...PageQuery, ...SearchQuery }),
          response: { 200: PageOf(DestinationList), ...ErrorResponses(400, 401, 403) },
        },
      },
      async (request, reply) => {
        const page = parsePage(request.query);
        const { count, results } = await lists.list(page.limit, page.offset, request.query.search);
        return sendPage(request, reply, page, count, results);
      },
    );

    r.post(
      '/api/v1/destination-lists/',
      {
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: 'Create a destination list',
          description:
            'Entries are normalised (IPv6 compressed and lowercase, /32 and /128 as bare addresses); a bad entry, a network with host bits set, or two entries that are the same after normalisation are a 400 naming each (`body.entries[i]`). At most 1000 entries. 409 when the name is taken (names are compared case-insensitively).',
          body: CreateListBody,
          response: { 201: DestinationList, ...ErrorResponses(400, 401, 403, 409) },
        },
      },
      async (request, reply) => reply.code(201).send(await lists.create(actorOf(request), request.body)),
    );

    r.get(
      '/api/v1/destination-lists/:id/',
      {
        config: { permission: 'configuration:read' },
        schema: {
          tags,
          summary: 'Get a destination list',
          description: `The list, its entry count and the groups that use it. Entries: \`GET /api/v1/destination-lists/{id}/entries/\`. ${REFERENCE}`,
          params: ListParams,
          response: { 200: DestinationList, ...ErrorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => lists.retrieve(request.params.id),
    );

    r.patch(
      '/api/v1/destination-lists/:id/',
      {
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: 'Rename or describe a destination list',
          description:
            'Groups reference lists by name, so a list in use cannot be renamed (409 naming the groups).',
          params: ListParams,
          body: UpdateListBody,
          response: { 200: DestinationList, ...ErrorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request) => lists.update(actorOf(request), request.params.id, request.body),
    );

    r.delete(
      '/api/v1/destination-lists/:id/',
      {
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: 'Delete a destination list',
          description: 'A list that a group references is not deleted: 409 naming the groups (`groups`).',
          params: ListParams,
          response: {
            204: Type.Null({ description: 'Deleted' }),
            ...ErrorResponses(400, 401, 403, 404, 409),
          },
        },
      },
      async (request, reply) => {
        await lists.remove(actorOf(request), request.params.id);
        return reply.code(204).send(null);
      },
    );

    r.get(
      '/api/v1/destination-lists/:id/entries/',
      {
        config: { permission: 'configuration:read' },
        schema: {
          tags,
          summary: 'List the entries of a destination list',
          description: 'In the order they were added, with `limit`/`offset` or `page`/`page_size`.',
          params: ListParams,
          querystring: StrictObject({ ...PageQuery }),
          response: { 200: PageOf(Entry), ...ErrorResponses(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        const page = parsePage(request.query);
        const { count, results } = await lists.entries(request.params.id, page.limit, page.offset);
        return sendPage(request, reply, page, count, results);
      },
    );

    r.post(
      '/api/v1/destination-lists/:id/entries/',
      {
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: 'Add entries to a destination list',
          description:
            'Validated and normalised as on create; an entry already in the list is a 409 naming it. Every group that uses the list gets a new revision with the new entries (`groups_out_of_sync`); their members become `changes_awaiting_apply`, and the usual diff and apply show and send the change. 409 when the entries would push a group past 1000 addresses or networks.',
          params: ListParams,
          body: EntriesBody,
          response: { 201: EntriesChanged, ...ErrorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request, reply) =>
        reply.code(201).send(await lists.addEntries(actorOf(request), request.params.id, request.body)),
    );

    r.post(
      '/api/v1/destination-lists/:id/entries/remove/',
      {
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: 'Remove entries from a destination list by value',
          description:
            'Values are normalised before they are looked up; one not in the list is a 404 naming it and nothing is removed. Groups that use the list go out of sync as on add.',
          params: ListParams,
          body: RemoveEntriesBody,
          response: { 200: EntriesChanged, ...ErrorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request) =>
        lists.removeEntries(actorOf(request), request.params.id, { entries: request.body.entries }),
    );

    r.delete(
      '/api/v1/destination-lists/:id/entries/:entry_id/',
      {
        config: { permission: 'configuration:write' },
        schema: {
          tags,
          summary: 'Remove one entry from a destination list',
          description: 'Groups that use the list go out of sync as on add.',
          params: EntryParams,
          response: {
            204: Type.Null({ description: 'Removed' }),
            ...ErrorResponses(400, 401, 403, 404, 409),
          },
        },
      },
      async (request, reply) => {
        await lists.removeEntries(actorOf(request), request.params.id, { entryId: request.params.entry_id });
        return reply.code(204).send(null);
      },
    );
  };
}
