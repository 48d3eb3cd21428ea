// The appliance registry, authorization, activities, connectors and licensing list (seed 003,
// "Connect appliances to the Manager"), paths exactly as the seed shows them.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { PageOf, PageQuery, parseOrdering, parsePage, sendPage } from '../../http/pagination.js';
import { ErrorResponses, Id, Nullable, StrictObject } from '../../http/schemas.js';
import { badField } from '../../shared/app-error.js';
import type { ConnectorsService } from './connectors.service.js';
import { ApplianceListQuery } from './fleet.list-query.js';
import {
  Activity,
  Appliance,
  ApplianceIdParams,
  ApplianceName,
  CompactAppliance,
  ConnectorParams,
  ConnectorState,
  CreateApplianceBody,
  TokenBody,
  UpdateApplianceBody,
} from './fleet.schemas.js';
import type { FleetService } from './fleet.service.js';
import { APPLIANCE_ORDERING } from './fleet.states.js';

const FINGERPRINT_EXAMPLE = 'sha256:9c1185a5c5e9fc54612808977ee8f548b2258d31a0c8a1b3e4f5a6b7c8d9e0f1';

const Enrollment = Type.Object(
  {
    manager_url: Nullable(
      Type.String({
        description:
          'This manager as agents are told it: base_url, or the request origin when its Host is in allowed_hosts; else null',
      }),
    ),
    fingerprint: Type.String({
      description: "SHA-256 fingerprint of the manager's pairing key (Ed25519), `sha256:<hex>`",
    }),
    type: Type.String({ description: 'The appliance type in the command' }),
    name: Nullable(Type.String({ description: 'The appliance name in the command, if one was asked for' })),
    command: Type.String({ description: 'The command line to run on the appliance' }),
    argv: Type.Array(Type.String(), { description: 'The same command as arguments of `steward`' }),
    steps: Type.Array(Type.String(), { description: 'What to do, in order' }),
  },
  {
    examples: [
      {
        manager_url: 'https://steward.example.com:8443',
        fingerprint: FINGERPRINT_EXAMPLE,
        type: 'tiscale-worker',
        name: null,
        command: `steward agent --type tiscale-worker --manager ${FINGERPRINT_EXAMPLE}`,
        argv: ['agent', '--type', 'tiscale-worker', '--manager', FINGERPRINT_EXAMPLE],
        steps: ['On the appliance, run the command.', 'Add the appliance in the console, then authorize it.'],
      },
    ],
  },
);

export interface FleetRouteDeps {
  fleet: FleetService;
  connectors: ConnectorsService;
}

/**
 * The URL the agent is told the manager has: the configured base URL, or the request's origin
 * when its Host is one the admin listed in allowed_hosts; otherwise none (an agent started
 * with `--manager <url>` then refuses, and the answer says to set base_url). Never a Host
 * header nobody vouched for.
 */
function managerUrlOf(request: FastifyRequest): string | null {
  return request.server.baseUrl?.() ?? request.server.linkOrigin?.(request) ?? null;
}

/** The activities list's query (the export takes the same filters). */
export const ActivityListQuery = StrictObject({
  ...PageQuery,
  appliance: Type.Optional(Id()),
  appliance_name: Type.Optional(Type.String({ maxLength: 100 })),
  kind: Type.Optional(Type.String({ maxLength: 100 })),
  severity: Type.Optional(Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('error')])),
  since: Type.Optional(Type.String({ format: 'date-time' })),
  until: Type.Optional(Type.String({ format: 'date-time' })),
});

export function fleetRoutes(deps: FleetRouteDeps): FastifyPluginAsync {
  const { fleet, connectors } = deps;
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();

    r.post(
      '/api/v1/appliances/create/',
      {
        config: { permission: 'appliances:write' },
        schema: {
          tags: ['appliances'],
          summary: 'Add an appliance',
          description:
            "Adds an appliance whose Steward agent is already running. `type` takes the legacy names (a1000, tiscale-worker, tiscale-hub) and the product names (analyze, worker, hub). The appliance then needs authorizing. The URL's address must be inside the appliance networks (network settings `appliance_networks`; by default loopback and private ranges, never link-local or cloud metadata addresses unless listed): otherwise a 400 naming `body.url`.",
          body: CreateApplianceBody,
          response: { 201: Appliance, ...ErrorResponses(400, 401, 403, 409) },
        },
      },
      async (request, reply) => reply.code(201).send(await fleet.create(actorOf(request), request.body)),
    );

    r.get(
      '/api/v1/appliances/',
      {
        config: { permission: 'appliances:read' },
        schema: {
          tags: ['appliances'],
          summary: 'List appliances',
          description:
            'Every appliance with its one `state` (online, degraded, offline, maintenance, unauthorized), its health and configuration status (`configuration_status`, `configuration_status_details`, `last_applied_config_timestamp`) and the newest package it may take (`available_update_version`). ' +
            '`search` matches the name, the URL and the host name the agent reported (case-insensitive substring). Filters: `state` (one or several, comma-separated: `state=offline,unauthorized`), `type`, `group_name`, `configuration_status`, and the older `authorized` and `online`; they combine with AND. ' +
            `\`ordering\` sorts by ${APPLIANCE_ORDERING.join(', ')} (\`-\` for descending, several comma-separated: \`ordering=state,-last_seen_online\`); appliances without a value (never seen, no release, no group) come last either way, and equal keys are ordered by id so pages never overlap. Default: by id. An unknown field, state or type is a 400 naming it.`,
          querystring: ApplianceListQuery,
          response: { 200: PageOf(Appliance), ...ErrorResponses(400, 401, 403) },
        },
      },
      async (request, reply) => {
        const page = parsePage(request.query);
        const order = parseOrdering(request.query.ordering, APPLIANCE_ORDERING, []);
        const { count, rows } = await fleet.list(request.query, page.limit, page.offset, order);
        return sendPage(request, reply, page, count, await fleet.present(rows));
      },
    );

    r.get(
      '/api/v1/appliances/enrollment/',
      {
        config: { permission: 'appliances:read' },
        schema: {
          tags: ['appliances'],
          summary: 'How to enroll an appliance',
          description:
            "What an admin runs on an appliance to enroll it with this manager: `command`, the `steward agent` line (also as `argv`, the arguments after `steward`), which pins this manager by the fingerprint of its pairing key (`--manager sha256:...`), so the agent pairs with this manager only. `type` (default tiscale-worker) and `name` (default: the appliance's host name) go into the command. `manager_url` is this manager's address as agents are told it (network settings `base_url`, or this request's origin when its Host is listed in `allowed_hosts`; else null). The pairing key is made on first use, as pairing would. Then add the appliance with its agent URL and authorize it; the appliance's `tls_fingerprint` is what the agent printed as `TLS certificate:`.",
          querystring: StrictObject({
            type: Type.Optional(
              Type.String({
                maxLength: 40,
                description: 'a1000, tiscale-worker or tiscale-hub (or analyze, worker, hub)',
                examples: ['worker'],
              }),
            ),
            name: Type.Optional(ApplianceName),
          }),
          response: { 200: Enrollment, ...ErrorResponses(400, 401, 403) },
        },
      },
      async (request) => fleet.enrollment(request.query.type, request.query.name, managerUrlOf(request)),
    );

    r.get(
      '/api/v1/configuration/appliances/',
      {
        config: { permission: 'appliances:read' },
        schema: {
          tags: ['appliances'],
          summary: 'List connected appliances (compact)',
          description:
            'The compact list of the seed: id, name, type, release, cluster (group or "standalone"), state (`primary` or `secondary` for the hubs named so in their hub group, else `standalone`), host name.',
          querystring: StrictObject({ ...PageQuery }),
          response: { 200: PageOf(CompactAppliance), ...ErrorResponses(400, 401, 403) },
        },
      },
      async (request, reply) => {
        const page = parsePage(request.query);
        const { count, rows } = await fleet.list({}, page.limit, page.offset);
        return sendPage(request, reply, page, count, await fleet.presentCompact(rows));
      },
    );

    r.get(
      '/api/v1/appliances/:id/',
      {
        config: { permission: 'appliances:read' },
        schema: {
          tags: ['appliances'],
          summary: 'Get an appliance',
          description: 'One appliance by id.',
          params: ApplianceIdParams,
          response: { 200: Appliance, ...ErrorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => fleet.get(request.params.id),
    );

    r.patch(
      '/api/v1/appliances/:id/',
      {
        config: { permission: 'appliances:write' },
        schema: {
          tags: ['appliances'],
          summary: 'Put an appliance in or out of maintenance',
          description:
            'Sets `maintenance`. While in maintenance the appliance is still polled (its health stays visible), but configuration applies skip it: it stays `changes_awaiting_apply` with `configuration_status_details.reason` saying so, and is sent the configuration by the next apply after maintenance ends. Going offline or coming back is listed as an `info` activity instead of a warning and raises no alert. Audited. Unknown fields are a 400.',
          params: ApplianceIdParams,
          body: UpdateApplianceBody,
          response: { 200: Appliance, ...ErrorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => fleet.setMaintenance(actorOf(request), request.params.id, request.body.maintenance),
    );

    r.delete(
      '/api/v1/appliances/:id/',
      {
        config: { permission: 'appliances:write' },
        schema: {
          tags: ['appliances'],
          summary: 'Remove an appliance',
          description:
            'Removes the appliance from the manager. Its agent keeps running on its last configuration.',
          params: ApplianceIdParams,
          response: { 204: Type.Null({ description: 'Removed' }), ...ErrorResponses(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        await fleet.remove(actorOf(request), request.params.id);
        return reply.code(204).send(null);
      },
    );

    r.get(
      '/api/v1/appliances/:id/authorization/',
      {
        config: { permission: 'appliances:write' },
        schema: {
          tags: ['appliances'],
          summary: 'Authorize a hub or worker',
          description:
            'The manager contacts the agent at its URL, pairs with it (signing with its Ed25519 key, which the agent pins), and pins the agent identity and TLS certificate. An agent started with `--manager` pairs only with that manager; otherwise the first manager that asks (trust on first use). Not a read-only call despite the GET: the seed defines it so. The agent is told the manager URL from `base_url` (or a Host listed in `allowed_hosts`), never from an unlisted Host header. A failed contact answers by class only, with a fixed `detail` that starts with it: 503 `unreachable`, `tls` or `not_a_steward_agent`, 409 `refused_by_policy` (the address is outside the appliance networks; nothing was sent); the remote answer is never echoed. 409 also when the agent refuses to pair.',
          params: ApplianceIdParams,
          response: { 200: Appliance, ...ErrorResponses(400, 401, 403, 404, 409, 503) },
        },
      },
      async (request) => fleet.authorizeByPairing(actorOf(request), request.params.id, managerUrlOf(request)),
    );

    r.put(
      '/api/v1/appliances/:id/authorization/',
      {
        config: { permission: 'appliances:write' },
        schema: {
          tags: ['appliances'],
          summary: 'Authorize a Spectra Analyze appliance',
          description:
            'Takes the API token that the Analyze agent printed on its first start (`API token: ...`); the manager checks it with the agent and stores it encrypted. A failed contact answers by class only, as for GET (503 `unreachable`, `tls`, `not_a_steward_agent`; 409 `refused_by_policy`).',
          params: ApplianceIdParams,
          body: TokenBody,
          response: { 200: Appliance, ...ErrorResponses(400, 401, 403, 404, 409, 503) },
        },
      },
      async (request) =>
        fleet.authorizeByToken(
          actorOf(request),
          request.params.id,
          request.body.token,
          managerUrlOf(request),
        ),
    );

    r.get(
      '/api/v1/activities/',
      {
        config: { permission: 'appliances:read' },
        schema: {
          tags: ['appliances'],
          summary: 'Fleet activities',
          description:
            'Events from appliances (configuration applied, errors) and from the fleet (added, authorized, online, offline, drift), newest first. Filter by `appliance` (id), `appliance_name`, `kind`, `severity`, and time (`since`, `until`).',
          querystring: ActivityListQuery,
          response: { 200: PageOf(Activity), ...ErrorResponses(400, 401, 403) },
        },
      },
      async (request, reply) => {
        const page = parsePage(request.query);
        const { count, rows } = await fleet.activities(request.query, page.limit, page.offset);
        return sendPage(request, reply, page, count, rows);
      },
    );

    r.post(
      '/api/v1/appliances/:id/connectors/:connector_name/',
      {
        config: { permission: 'appliances:write' },
        schema: {
          tags: ['appliances'],
          summary: 'Enable a connector on a hub',
          description: 'Enables one of the seven connectors on a hub. `id` must be digits; hubs only.',
          params: ConnectorParams,
          response: { 200: ConnectorState, ...ErrorResponses(400, 401, 403, 404, 409, 503) },
        },
      },
      async (request) =>
        connectors.enable(actorOf(request), request.params.id, request.params.connector_name),
    );

    r.get(
      '/api/v1/appliances/:id/connectors/:connector_name/v1/config/',
      {
        config: { permission: 'appliances:read' },
        schema: {
          tags: ['appliances'],
          summary: 'Get a connector configuration',
          description:
            'The configuration of a connector, as stored on the hub, with its secrets hidden at any depth: the value ' +
            'under a secret-looking name (password, pwd, secret, token, key, credential, authorization, signature, ' +
            'cookie), whatever its type, is shown as `<name>_set`; inside other strings the secret parts of URLs ' +
            '(`user:password@`), connection strings (`AccountKey=`, `Password=`, `sig=`), `Bearer`/`Basic` values, ' +
            'JSON web tokens and PEM private keys are shown as `<masked>` (docs/fleet.md).',
          params: ConnectorParams,
          response: { 200: ConnectorState, ...ErrorResponses(400, 401, 403, 404, 409, 503) },
        },
      },
      async (request) => connectors.getConfig(request.params.id, request.params.connector_name),
    );

    r.post(
      '/api/v1/appliances/:id/connectors/:connector_name/v1/config/',
      {
        config: { permission: 'appliances:write' },
        schema: {
          tags: ['appliances'],
          summary: 'Configure a connector',
          description:
            'Replaces the configuration of a connector on the hub (a JSON object, at most 64 KiB). Secrets are ' +
            'write-only and a GET hides them (see there); what a GET showed can be sent back and keeps every stored ' +
            'secret: a secret the body leaves out keeps its stored value, `<name>_set: true` keeps it too, ' +
            '`<name>_set: false` deletes it, and a string sent back exactly as shown (with `<masked>` in it) keeps ' +
            'the stored string. A string that carries `<masked>` but was changed (a new host with the old password) ' +
            'is a 400 naming the field: type the secret again.',
          params: ConnectorParams,
          body: Type.Record(Type.String(), Type.Unknown(), {
            maxProperties: 200,
            examples: [
              { bucket: 'samples', region: 'eu-west-1', access_key: 'AKIA...', secret_key: 'secret' },
            ],
          }),
          response: { 200: ConnectorState, ...ErrorResponses(400, 401, 403, 404, 409, 503) },
        },
      },
      async (request) => {
        if (JSON.stringify(request.body).length > 64 * 1024) {
          throw badField('body', 'connector configuration is larger than 64 KiB');
        }
        return connectors.setConfig(
          actorOf(request),
          request.params.id,
          request.params.connector_name,
          request.body,
        );
      },
    );
  };
}
