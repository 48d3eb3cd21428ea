// TypeBox schemas of the fleet API (request validation, response serialisation, OpenAPI).
// Past ~400 lines on purpose: declarations only, no logic, shared by the fleet, config and
// licensing routes; one file keeps each shape defined once for the OpenAPI document.
import { Type } from 'typebox';
import { CONNECTOR_NAMES } from '../../../contract/fleet-fields.js';
import { Id, Nullable, StrictObject } from '../../http/schemas.js';
import { HUB_ONLY_SETTINGS } from '../config/config.hub-groups.js';

const FreeObject = (description: string) => Type.Object({}, { additionalProperties: true, description });
const Time = (description: string) => Type.String({ format: 'date-time', description });

export const CONFIG_STATUSES = [
  'changes_awaiting_apply',
  'pending',
  'error',
  'done',
  'mismatch',
  'unsupported',
  'no_configuration_group',
] as const;

export const ApplianceName = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
  description: 'Unique name: a letter or digit, then letters, digits, dots, dashes or underscores',
});

const APPLIANCE_EXAMPLE = {
  id: 1,
  uuid: '095be615-a8ad-4c33-8e9c-c7612fbf6c9f',
  name: 'worker-1',
  type: 'tiscale-worker',
  url: 'https://worker-1.example.com:8443',
  ip: 'worker-1.example.com',
  hostname: 'worker-1',
  release: '5.3.0',
  status: 'online',
  state: 'online',
  authorized: true,
  online: true,
  latency: 1.7,
  maintenance: false,
  last_seen_online: '2026-01-01T10:00:00.000Z',
  system_data: { health: 'ok', load: [0.1, 0.2, 0.2] },
  snmp_community_set: false,
  haproxy_password_set: false,
  tls_fingerprint: 'sha256:4f1c0b2e9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29180f7e6d5c4b3a291807',
  created: '2026-01-01T09:00:00.000Z',
  updated: '2026-01-01T10:00:00.000Z',
  group_name: 'TestGroup1',
  redundancy_status: 'standalone',
  configured_redundancy_status: 'standalone',
  redundant_with: null,
  connected_workers: [],
  application_url: 'https://worker-1.example.com:8443',
  available_update_version: null,
  has_update_log_endpoint: true,
  last_applied_config_timestamp: '2026-01-01T10:00:00.000Z',
  applied_revision: 3,
  configuration_status: 'done',
  configuration_status_details: {},
};

export const Appliance = Type.Object(
  {
    id: Type.Integer(),
    uuid: Nullable(Type.String({ description: 'The agent identity, pinned at authorization' })),
    name: Type.String(),
    type: Type.String({ description: 'a1000, tiscale-worker or tiscale-hub' }),
    url: Type.String(),
    ip: Type.String(),
    hostname: Nullable(Type.String()),
    release: Nullable(Type.String()),
    status: Type.String({ description: 'unauthorized, online, degraded or offline' }),
    state: Type.Union(
      [
        Type.Literal('online'),
        Type.Literal('degraded'),
        Type.Literal('offline'),
        Type.Literal('maintenance'),
        Type.Literal('unauthorized'),
      ],
      {
        description:
          'The one state to show (and to filter the list by): `unauthorized` (not authorized yet), else `maintenance`, else `online`, `degraded` (answering, health degraded) or `offline` (not answering)',
      },
    ),
    authorized: Type.Boolean(),
    online: Type.Boolean(),
    latency: Nullable(
      Type.Number({
        description: 'Milliseconds of the last status call; null while the appliance is offline',
      }),
    ),
    maintenance: Type.Boolean(),
    last_seen_online: Nullable(Time('Last successful status call')),
    system_data: FreeObject('Health, load, memory, disk and running configuration reported by the agent'),
    snmp_community_set: Type.Boolean({ description: 'Write-only: whether an SNMP community is set' }),
    haproxy_password_set: Type.Boolean({
      description: 'Write-only: whether a load-balancer password is set',
    }),
    tls_fingerprint: Nullable(
      Type.String({
        description:
          'SHA-256 fingerprint of the TLS certificate pinned at authorization (`sha256:<hex>`), as the agent prints it at start (`TLS certificate: ...`); null before authorization or without TLS',
      }),
    ),
    created: Time('When it was added'),
    updated: Time('Last change'),
    group_name: Nullable(Type.String()),
    redundancy_status: Type.String(),
    configured_redundancy_status: Type.String(),
    redundant_with: Nullable(Type.String()),
    connected_workers: Type.Array(Type.String()),
    application_url: Type.String(),
    available_update_version: Nullable(Type.String()),
    has_update_log_endpoint: Type.Boolean(),
    last_applied_config_timestamp: Nullable(Time('When a configuration was last written on the appliance')),
    applied_revision: Nullable(Type.Integer({ description: 'Revision the appliance last took' })),
    configuration_status: Type.Enum(CONFIG_STATUSES, {
      description: 'Where the appliance stands with its configuration',
    }),
    configuration_status_details: FreeObject('Why: the error, the unsupported fields, the drifted hash'),
  },
  { examples: [APPLIANCE_EXAMPLE] },
);

export const CompactAppliance = Type.Object(
  {
    id: Type.Integer(),
    appliance_name: Type.String(),
    type: Type.String(),
    release: Type.String(),
    cluster: Type.String({ description: '"standalone" if not in a group' }),
    state: Type.String({
      description: "primary or secondary (the hub group's primary or fallback hub), else standalone",
    }),
    appliance_hostname: Type.String(),
  },
  {
    examples: [
      {
        id: 1,
        appliance_name: 'worker-1',
        type: 'tiscale-worker',
        release: '5.3.0',
        cluster: 'standalone',
        state: 'standalone',
        appliance_hostname: 'worker-1',
      },
    ],
  },
);

export const CreateApplianceBody = StrictObject(
  {
    name: ApplianceName,
    type: Type.String({
      description: 'a1000, tiscale-worker, tiscale-hub (or analyze, worker, hub)',
      maxLength: 40,
    }),
    url: Type.String({
      minLength: 1,
      maxLength: 2000,
      description: 'Where the agent listens: https://host:port',
    }),
    snmp_community: Type.Optional(Type.String({ maxLength: 64 })),
    haproxy_password: Type.Optional(
      Type.String({ maxLength: 200, description: 'Load balancer password (hubs); write-only' }),
    ),
  },
  {
    examples: [
      {
        name: 'worker-1',
        type: 'tiscale-worker',
        url: 'https://worker-1.example.com:8443',
        snmp_community: 'public',
      },
    ],
  },
);

export const UpdateApplianceBody = StrictObject(
  {
    maintenance: Type.Boolean({
      description:
        'In maintenance the appliance is still polled, but configuration is not sent to it (it stays `changes_awaiting_apply`, saying why) and going offline raises no alarm',
    }),
  },
  { examples: [{ maintenance: true }] },
);

export const TokenBody = StrictObject(
  {
    token: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'The API token the Analyze agent printed',
    }),
  },
  { examples: [{ token: 'stwaU3n2Vd0kq4h7X9cT1bYw8eRz5LmP6sJa0Cq9Fx' }] },
);

export const ApplianceIdParams = StrictObject({
  id: Id({ description: 'Appliance id' }),
});

export const Content = Type.Record(Type.String(), Type.Unknown(), {
  description:
    'Configuration fields by name (see docs/fleet.md for the catalog). Secret fields are write-only.',
  examples: [{ snmp__enable: true, snmp__community: 'public', cloud__enabled: true, cloud__token: 'secret' }],
});

export const GroupName = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]*$',
  description: 'A letter or digit, then letters, digits, spaces, dots, dashes or underscores',
});
export const GroupParams = StrictObject({ name: GroupName });

export const CreateGroupBody = StrictObject({ name: GroupName }, { examples: [{ name: 'TestGroup1' }] });

export const SaveBody = StrictObject(
  {
    appliances: Type.Optional(
      Type.Array(ApplianceName, { maxItems: 10000, description: 'Members of the group (names)' }),
    ),
    content: Type.Optional(Content),
  },
  { examples: [{ appliances: ['worker-1'] }, { content: { cloud__enabled: true, cloud__timeout: 60 } }] },
);

export const ApplyBody = StrictObject(
  {
    applyconfiguration: Type.Array(ApplianceName, {
      maxItems: 10000,
      description: 'Appliances of the group to apply to; empty means all members',
    }),
  },
  { examples: [{ applyconfiguration: ['worker-1'] }] },
);

const StatusEntry = Type.Object({
  name: Type.String(),
  configuration_status: Type.String(),
  applied_revision: Nullable(Type.Integer()),
  last_applied_config_timestamp: Nullable(Type.String()),
});

export const Group = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    kind: Type.String({ description: 'standard or hub' }),
    revision: Type.Integer({ description: 'Saved revision; 0 until content is first saved' }),
    appliances: Type.Array(Type.String()),
    content: Type.Record(Type.String(), Type.Unknown()),
    hub_settings: Type.Optional(
      Nullable(FreeObject('Hub-only settings fixed at creation; secrets as *_set')),
    ),
    statuses: Type.Array(StatusEntry),
    created: Type.String(),
    updated: Type.String(),
  },
  {
    examples: [
      {
        id: 1,
        name: 'TestGroup1',
        kind: 'standard',
        revision: 2,
        appliances: ['worker-1'],
        content: { cloud__enabled: true, cloud__token_set: true },
        statuses: [
          {
            name: 'worker-1',
            configuration_status: 'changes_awaiting_apply',
            applied_revision: 1,
            last_applied_config_timestamp: '2026-01-01T10:00:00.000Z',
          },
        ],
        created: '2026-01-01T09:00:00.000Z',
        updated: '2026-01-01T10:00:00.000Z',
      },
    ],
  },
);

export const ApplyResponse = Type.Object(
  {
    detail: Type.String(),
    revision: Type.Integer(),
    appliances: Type.Array(Type.Object({ name: Type.String(), configuration_status: Type.String() })),
  },
  {
    examples: [
      {
        detail: 'applying revision 2 to 1 appliance(s) in the background',
        revision: 2,
        appliances: [{ name: 'worker-1', configuration_status: 'pending' }],
      },
    ],
  },
);

const Change = Type.Object({
  field: Type.String(),
  action: Type.String({ description: 'added, changed or removed' }),
  from: Type.Optional(Type.Unknown()),
  to: Type.Optional(Type.Unknown()),
});

export const DiffResponse = Type.Object(
  {
    name: Type.String(),
    revision: Type.Integer(),
    base_revision: Type.Integer(),
    changes: Type.Array(Change),
    appliances: Type.Array(
      Type.Object({
        name: Type.String(),
        configuration_status: Type.String(),
        applied_revision: Nullable(Type.Integer()),
        changes: Type.Array(Change),
      }),
    ),
  },
  {
    examples: [
      {
        name: 'TestGroup1',
        revision: 2,
        base_revision: 1,
        changes: [{ field: 'cloud__timeout', action: 'changed', from: 60, to: 30 }],
        appliances: [
          {
            name: 'worker-1',
            configuration_status: 'changes_awaiting_apply',
            applied_revision: 1,
            changes: [{ field: 'cloud__timeout', action: 'changed', from: 60, to: 30 }],
          },
        ],
      },
    ],
  },
);

export const HubGroupBody = StrictObject(
  {
    name: GroupName,
    primary_router_id: Type.String({ minLength: 1, maxLength: 64 }),
    primary_host: Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'Name of a hub appliance, not a URL',
    }),
    fallback_router_id: Type.Optional(
      Type.String({ maxLength: 64, description: 'Router id of the fallback hub; empty means none' }),
    ),
    fallback_host: Type.Optional(
      Type.String({
        maxLength: 100,
        description: 'Name of a second hub appliance, not a URL; empty (or absent) means no fallback hub',
      }),
    ),
    vrrp_enabled: Type.Optional(Type.Boolean()),
    virtual_router_id: Type.Optional(Type.Integer({ minimum: 1, maximum: 255 })),
    auth_pass: Type.Optional(
      Type.String({ maxLength: 8, description: 'VRRP password (write-only); empty means none' }),
    ),
    different_networks: Type.Optional(Type.Boolean()),
    virtual_ipaddress: Type.Optional(Type.String({ maxLength: 45 })),
    api_worker_token: Type.Optional(Type.String({ maxLength: 200 })),
    srv_available_worker_token: Type.Optional(Type.String({ maxLength: 200 })),
    srv_worker_token: Type.Optional(Type.String({ maxLength: 200 })),
  },
  {
    examples: [
      {
        name: 'hubs-eu',
        primary_router_id: 'r1',
        primary_host: 'hub-1',
        fallback_router_id: 'r2',
        fallback_host: 'hub-2',
        vrrp_enabled: true,
        virtual_router_id: 51,
        auth_pass: 'vrrp1234',
        different_networks: false,
        virtual_ipaddress: '10.0.0.100',
      },
    ],
  },
);

/** Hub save/update bodies name the hub-only settings so that changing one is a clear 400. */
const hubFixed = Object.fromEntries(
  HUB_ONLY_SETTINGS.map((k) => [
    k,
    Type.Optional(Type.Unknown({ description: 'Fixed at creation: sending it is a 400' })),
  ]),
);

export const HubSaveBody = StrictObject(
  {
    appliances: Type.Optional(Type.Array(ApplianceName, { maxItems: 10000 })),
    content: Type.Optional(Content),
    ...hubFixed,
  },
  {
    examples: [{ appliances: ['hub-1', 'hub-2', 'worker-1'], content: { hub__balance_method: 'leastconn' } }],
  },
);

/** The hub group's apply: the hub save body, or the standard group's `applyconfiguration`. */
export const HubUpdateBody = StrictObject(
  {
    appliances: Type.Optional(
      Type.Array(ApplianceName, { maxItems: 10000, description: 'Members to apply to; empty means all' }),
    ),
    applyconfiguration: Type.Optional(
      Type.Array(ApplianceName, {
        maxItems: 10000,
        description:
          'Same as `appliances`, as PUT /api/v1/config-group/update/{name}/ takes it; send one of the two',
      }),
    ),
    content: Type.Optional(Content),
    ...hubFixed,
  },
  {
    examples: [
      { appliances: ['hub-1'], content: { hub__balance_method: 'leastconn' } },
      { applyconfiguration: ['hub-1'] },
    ],
  },
);

export const ContentBody = StrictObject(
  { content: Content },
  { examples: [{ content: { cloud__enabled: true, cloud__user: 'u/example', cloud__token: 'secret' } }] },
);

export const IndividualParams = StrictObject({ appliance_id: Id() });

export const IndividualConfig = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    revision: Type.Integer(),
    content: Type.Record(Type.String(), Type.Unknown()),
    configuration_status: Type.String(),
  },
  {
    examples: [
      {
        id: 3,
        name: 'analyze-1',
        revision: 1,
        content: { cloud__enabled: true },
        configuration_status: 'changes_awaiting_apply',
      },
    ],
  },
);

export const ConnectorParams = StrictObject({
  id: Type.String({ pattern: '^[0-9]{1,9}$', description: 'Appliance id: digits only' }),
  connector_name: Type.Enum(CONNECTOR_NAMES, { description: CONNECTOR_NAMES.join(', ') }),
});

export const ConnectorState = Type.Object(
  {
    connector: Type.String(),
    enabled: Type.Boolean(),
    config: FreeObject('The connector configuration; secret-looking values shown as *_set'),
    updated: Nullable(Type.String()),
  },
  {
    examples: [
      { connector: 's3', enabled: true, config: { bucket: 'samples', secret_key_set: true }, updated: null },
    ],
  },
);

export const Activity = Type.Object(
  {
    id: Type.Integer(),
    at: Type.String({ format: 'date-time' }),
    appliance_id: Nullable(Type.Integer()),
    appliance_name: Nullable(Type.String()),
    kind: Type.String({ description: 'e.g. appliance.offline, config.applied, config.mismatch' }),
    severity: Type.String({ description: 'info, warning or error' }),
    source: Type.String({ description: 'manager or appliance' }),
    message: Type.String(),
    details: FreeObject('Structured detail'),
  },
  {
    examples: [
      {
        id: 12,
        at: '2026-01-01T10:00:00.000Z',
        appliance_id: 1,
        appliance_name: 'worker-1',
        kind: 'appliance.offline',
        severity: 'warning',
        source: 'manager',
        message: 'appliance worker-1 is offline: no answer',
        details: {},
      },
    ],
  },
);

export const LicensingEntry = Type.Object(
  {
    id: Type.Integer(),
    appliance_name: Type.String(),
    type: Type.String(),
    status: Type.String({ description: 'VALID, EXPIRED or UNLICENSED' }),
    product: Type.String({ description: 'A1000, TISCALE_WORKER or TISCALE_HUB' }),
    machineId: Nullable(Type.String()),
    version: Nullable(Type.Integer()),
    serialNumber: Nullable(Type.String()),
    licenseType: Nullable(Type.String()),
    company: Nullable(Type.String()),
    expiryDate: Nullable(Type.String()),
    creationDate: Nullable(Type.String()),
  },
  {
    examples: [
      {
        id: 1,
        appliance_name: 'worker-1',
        type: 'tiscale-worker',
        status: 'VALID',
        product: 'TISCALE_WORKER',
        machineId: '9F2C4E1A7B3D5F60718293A4B5C6D7E8',
        version: 1,
        serialNumber: '148d7a56-176d-413b-9eb5-c62f6f5bb67a',
        licenseType: 'WILDCARD',
        company: 'Example Ltd',
        expiryDate: '2027-08-24',
        creationDate: '2026-08-24',
      },
    ],
  },
);
