// The agent protocol: every request the manager sends to an appliance's agent and every answer
// the agent gives, as TypeBox schemas. Both sides check messages against them: the agent what it
// receives (a bad request is a 400 naming the field, src/agent/validate.ts), the manager what an
// agent answers (an answer that does not match is a failure of that appliance, classified like a
// failed call and never echoed: server/modules/fleet/agent-client.ts). The types both sides use
// are the schemas' static types.
//
// Extra properties are allowed in requests and answers alike: a newer agent may answer with
// fields this manager does not know, a newer manager may send fields an older agent ignores.
// What the agent checks beyond shape (signatures, time windows, the configuration fields against
// the field catalog, connector secrets) stays in its handlers.
//
// Longer than most files on purpose: the whole protocol in one place, read top to bottom, almost
// all of it schema declarations. Checking a value against a schema is in schema-check.ts.

import { type Static, type TSchema, Type } from 'typebox';
import { APPLIANCE_TYPES, CONNECTOR_NAMES, MANAGER_PACKAGE_TYPE } from './fleet-fields.js';

const Nullable = <T extends TSchema>(t: T, description: string) =>
  Type.Union([t, Type.Null()], { description });
/**
 * An object of any keys with values of one schema. A bare Record checks the keys matching `^.*$`
 * only, and `.` does not match a line break: a key with one would go unchecked. Hence
 * additionalProperties too.
 */
const Dictionary = <T extends TSchema>(value: T, description: string) =>
  Type.Record(Type.String(), value, { description, additionalProperties: value });
const FreeObject = (description: string) => Dictionary(Type.Unknown(), description);
const Timestamp = (description: string) => Type.String({ description: `${description} (ISO 8601, UTC)` });

export const ApplianceTypeSchema = Type.Enum(APPLIANCE_TYPES, {
  description: `The appliance type the agent fronts: ${APPLIANCE_TYPES.join(', ')}`,
});

// ---- errors ---------------------------------------------------------------------------------

export const AgentError = Type.Object(
  {
    code: Type.String({
      description: 'Machine-readable class: validation_failed, invalid_token, not_found, …',
    }),
    detail: Type.String({ description: 'One readable sentence' }),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          field: Type.String({ description: 'The field at fault, as `body.<path>` or `query.<name>`' }),
          message: Type.String(),
        }),
        { description: 'On 400 validation_failed: each field at fault' },
      ),
    ),
  },
  { description: 'Every answer of the agent with a 4xx or 5xx status' },
);
export type AgentError = Static<typeof AgentError>;

// ---- identity and pairing -------------------------------------------------------------------

export const Hello = Type.Object(
  {
    uuid: Type.String({ description: 'The agent identity, made on its first start' }),
    type: ApplianceTypeSchema,
    release: Type.String({ description: 'The release of the appliance software (dotted numbers)' }),
    paired: Type.Boolean({ description: 'Whether a manager is paired' }),
  },
  { description: 'GET /agent/v1/hello (no token): who answers at this URL, before pairing' },
);
export type Hello = Static<typeof Hello>;

export const AgentIdentity = Type.Object(
  {
    uuid: Type.String({ description: 'Made on first start, never changes' }),
    name: Type.String({ description: 'The name given with --name (default: the host name)' }),
    hostname: Type.String(),
    type: ApplianceTypeSchema,
    release: Type.String({ description: 'Changes with upgrades' }),
    created: Timestamp('When the identity was made'),
  },
  { description: 'The identity the agent keeps in its data directory' },
);
export type AgentIdentity = Static<typeof AgentIdentity>;

export const IdentityAnswer = Type.Intersect(
  [
    AgentIdentity,
    Type.Object({
      manager: Nullable(Type.String(), 'Fingerprint (`sha256:<hex>`) of the paired manager key; null: none'),
    }),
  ],
  { description: 'GET /agent/v1/identity: the identity and the paired manager' },
);
export type IdentityAnswer = Static<typeof IdentityAnswer>;

export const PairRequest = Type.Object(
  {
    public_key: Type.String({ description: "The manager's Ed25519 public key (SPKI DER, base64)" }),
    manager_url: Type.Optional(
      Nullable(Type.String(), "The manager's base URL (checked against --manager <url>); null: unknown"),
    ),
    timestamp: Timestamp('When the request was signed; more than 5 minutes off is refused'),
    nonce: Type.String({ description: 'Random, so that no two signed messages are equal' }),
    signature: Type.String({
      description: 'Ed25519 signature (base64) over pairingMessage(agent uuid, timestamp, nonce)',
    }),
  },
  { description: 'POST /agent/v1/pair: the manager asks to pair, proving it holds its key' },
);
export type PairRequest = Static<typeof PairRequest>;

export const PairAnswer = Type.Object(
  {
    token: Type.String({ description: 'The token the manager calls the agent with from now on (stwa…)' }),
    identity: AgentIdentity,
    fingerprint: Type.String({ description: 'The fingerprint of the manager key the agent pinned' }),
  },
  { description: 'The answer to a pairing the agent accepted' },
);
export type PairAnswer = Static<typeof PairAnswer>;

// ---- status and configuration ---------------------------------------------------------------

export const RunningConfig = Type.Object(
  {
    revision: Nullable(Type.Integer(), 'The revision applied last; null: none yet'),
    hash: Type.String({ description: 'SHA-256 (hex) of the canonical JSON of the running content' }),
    applied_at: Nullable(Type.String(), 'When it was applied (ISO 8601); null: never'),
  },
  { description: 'The configuration the agent runs' },
);

export const AgentStatus = Type.Object(
  {
    uuid: Type.String(),
    name: Type.String(),
    hostname: Type.String(),
    type: ApplianceTypeSchema,
    release: Type.String(),
    health: Type.Enum(['ok', 'degraded'], { description: 'degraded: the data disk is over 95% full' }),
    uptime_seconds: Type.Number({ description: 'Seconds since the agent started' }),
    load: Type.Array(Type.Number(), { description: 'Load averages over 1, 5 and 15 minutes' }),
    memory: Type.Object({ total: Type.Number(), free: Type.Number() }, { description: 'Bytes' }),
    disk: Type.Object(
      { total: Type.Number(), free: Type.Number(), used_percent: Type.Number() },
      { description: 'The data directory filesystem, bytes (zeros where it cannot be read)' },
    ),
    config: RunningConfig,
    last_event_id: Type.Integer({ description: 'The id of the newest event; 0: none' }),
  },
  {
    description:
      'GET /agent/v1/status: what the health job polls. Conditional: its ETag moves with identity, release, ' +
      'health, running configuration and newest event, not with the load figures',
  },
);
export type AgentStatus = Static<typeof AgentStatus>;

export const ConfigAnswer = Type.Object(
  {
    revision: Nullable(Type.Integer(), 'The revision applied last; null: none yet'),
    applied_at: Nullable(Type.String(), 'When it was applied; null: never'),
    hash: Type.String({ description: 'SHA-256 (hex) of the canonical JSON of `content`' }),
    content: FreeObject('The applied fields, by catalog name'),
  },
  { description: 'GET /agent/v1/config: the running configuration' },
);
export type ConfigAnswer = Static<typeof ConfigAnswer>;

export const ApplyRequest = Type.Object(
  {
    revision: Type.Integer({ description: 'The revision being applied' }),
    content: FreeObject(
      'Fields by catalog name (contract/fleet-fields.ts); each is checked and reported by the agent',
    ),
  },
  { description: 'PUT /agent/v1/config: apply a configuration, all fields or none' },
);
export type ApplyRequest = Static<typeof ApplyRequest>;

export const FieldResult = Type.Union(
  [
    Type.Object({ status: Type.Literal('applied') }),
    Type.Object({ status: Type.Literal('unsupported'), message: Type.String() }),
    Type.Object({ status: Type.Literal('error'), message: Type.String() }),
  ],
  { description: 'What became of one field of an apply' },
);
export type FieldResult = Static<typeof FieldResult>;

export const ApplyResult = Type.Object(
  {
    revision: Type.Integer({ description: 'The revision now running (the previous one when refused)' }),
    hash: Type.String({ description: 'SHA-256 of the running content' }),
    results: Dictionary(FieldResult, 'One result per field sent'),
    reload_error: Type.Optional(
      Type.String({ description: 'The reload hook failed: the configuration is written but not in use' }),
    ),
  },
  { description: 'The answer to an apply' },
);
export type ApplyResult = Static<typeof ApplyResult>;

// ---- connectors (hubs only) -----------------------------------------------------------------

export const ConnectorNameSchema = Type.Enum(CONNECTOR_NAMES, { description: CONNECTOR_NAMES.join(', ') });

export const ConnectorState = Type.Object(
  {
    enabled: Type.Boolean(),
    config: FreeObject('The connector configuration as stored (secrets included: the manager masks them)'),
    updated: Nullable(Type.String(), 'When it last changed; null: never'),
  },
  {
    description:
      'GET /agent/v1/connectors/:name, and the answer to POST …/enable and PUT …/config (hubs only; ' +
      'an unknown name is a 404, a non-hub a 409)',
  },
);
export type ConnectorState = Static<typeof ConnectorState>;

export const ConnectorConfigRequest = FreeObject(
  'PUT /agent/v1/connectors/:name/config: the new configuration; secrets left out or marked `<name>_set: true` are kept',
);
export type ConnectorConfigRequest = Static<typeof ConnectorConfigRequest>;

// ---- events ---------------------------------------------------------------------------------

export const AgentEvent = Type.Object(
  {
    id: Type.Integer({ description: 'Increasing; the manager reads from its cursor on' }),
    at: Timestamp('When it happened'),
    kind: Type.String({ description: 'config.applied, upgrade.failed, …' }),
    severity: Type.Enum(['info', 'warning', 'error']),
    message: Type.String(),
    details: Type.Optional(FreeObject('Extra facts, kind by kind')),
  },
  { description: 'One entry of the agent event log (the last 1,000 are kept)' },
);
export type AgentEvent = Static<typeof AgentEvent>;

export const EventsQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$', description: 'Events after this id' })),
    limit: Type.Optional(
      Type.String({ pattern: '^[0-9]{1,15}$', description: 'At most this many (max 500)' }),
    ),
  },
  { description: 'GET /agent/v1/events query' },
);
export type EventsQuery = Static<typeof EventsQuery>;

export const EventsAnswer = Type.Object(
  {
    events: Type.Array(AgentEvent),
    last_event_id: Type.Integer({ description: 'The id of the newest event; 0: none' }),
  },
  { description: 'GET /agent/v1/events: the events after a cursor' },
);
export type EventsAnswer = Static<typeof EventsAnswer>;

// ---- upgrades -------------------------------------------------------------------------------

export const UPGRADE_STATUSES = ['idle', 'pending', 'downloading', 'installing', 'error'] as const;
export type UpgradeStatus = (typeof UPGRADE_STATUSES)[number];

export const PackageManifest = Type.Object(
  {
    type: Type.Enum([...APPLIANCE_TYPES, MANAGER_PACKAGE_TYPE], {
      description: 'What the package is for: an appliance type, or the manager itself',
    }),
    version: Type.String({ description: 'The release the package installs' }),
    requires: Type.String({ description: 'Lowest release the package installs on' }),
    sha256: Type.String({ description: 'SHA-256 (hex) of the payload: the install step, an executable' }),
    created: Type.Optional(Type.String()),
  },
  { description: "An upgrade package's manifest (signed by its publisher, countersigned by the manager)" },
);
export type PackageManifest = Static<typeof PackageManifest>;

export const UpgradeRequest = Type.Object(
  {
    manifest: PackageManifest,
    manager_signature: Type.String({
      description: 'Ed25519 signature (base64) of the paired manager over manifestSigningBytes(manifest)',
    }),
    payload: Type.String({ description: 'The install step (base64)' }),
  },
  { description: 'POST /agent/v1/upgrade: install a package (answered 202, then polled)' },
);
export type UpgradeRequest = Static<typeof UpgradeRequest>;

export const UpgradeState = Type.Object(
  {
    status: Type.Enum(UPGRADE_STATUSES),
    version: Nullable(Type.String(), 'The release being (or last) installed; null: none yet'),
    log: Type.String({ description: 'The install log (the last 64 KiB)' }),
    started: Nullable(Type.String(), 'ISO 8601; null: never'),
    finished: Nullable(Type.String(), 'ISO 8601; null: not finished'),
  },
  { description: 'GET /agent/v1/upgrade, and the answer to POST /agent/v1/upgrade (202)' },
);
export type UpgradeState = Static<typeof UpgradeState>;

// ---- licence and certificate ----------------------------------------------------------------

export const LicenceRequest = Type.Object(
  {
    license: FreeObject('The licence document, verified by the manager'),
    signature: Type.String({ description: "The publisher's signature over it" }),
  },
  { description: 'PUT /agent/v1/license: install a licence' },
);
export type LicenceRequest = Static<typeof LicenceRequest>;

export const LicenceDocument = Type.Object(
  {
    license: Nullable(FreeObject('The licence document'), 'null: no licence installed'),
    signature: Type.Optional(Type.String()),
    installed: Type.Optional(Type.String({ description: 'When it was installed (ISO 8601)' })),
  },
  { description: 'GET /agent/v1/license, and the answer to PUT' },
);
export type LicenceDocument = Static<typeof LicenceDocument>;

const HOST_NAME = '^[A-Za-z0-9.*:-]{1,253}$';

export const CertificateRequestRequest = Type.Object(
  {
    common_name: Type.String({ pattern: HOST_NAME, description: 'A host name' }),
    alt_names: Type.Optional(
      Type.Array(Type.String({ pattern: HOST_NAME }), {
        maxItems: 20,
        description: 'Further host names or IP addresses',
      }),
    ),
  },
  { description: 'POST /agent/v1/certificate/request: make a key on the appliance and a request for it' },
);
export type CertificateRequestRequest = Static<typeof CertificateRequestRequest>;

export const CertificateRequestAnswer = Type.Object(
  { csr: Type.String({ description: 'PKCS#10 request (PEM); the key stays on the appliance' }) },
  { description: 'The answer to a certificate request' },
);
export type CertificateRequestAnswer = Static<typeof CertificateRequestAnswer>;

export const CertificateInstallRequest = Type.Object(
  {
    cert: Type.String({ description: 'The certificate (PEM)' }),
    key: Type.Optional(
      Type.String({ description: 'Its private key (PEM); absent: one the agent holds must match' }),
    ),
  },
  { description: 'PUT /agent/v1/certificate: install a TLS certificate (no restart)' },
);
export type CertificateInstallRequest = Static<typeof CertificateInstallRequest>;

export const CertificateInstallAnswer = Type.Object(
  {
    installed: Type.Boolean(),
    fingerprint: Type.String({ description: 'SHA-256 fingerprint of the installed certificate' }),
    live: Type.Boolean({ description: 'Whether new connections get it at once (the agent serves TLS)' }),
  },
  { description: 'The answer to a certificate install' },
);
export type CertificateInstallAnswer = Static<typeof CertificateInstallAnswer>;

// ---- the endpoint table ---------------------------------------------------------------------

export interface AgentEndpoint {
  method: 'GET' | 'POST' | 'PUT';
  /** Relative to the agent's base URL; `:name` is a path parameter. */
  path: string;
  /** The success status (2xx). */
  status: number;
  body?: TSchema;
  query?: TSchema;
  /** The answer with the success status; every other answer is an AgentError. */
  answer: TSchema;
  /**
   * The answer carries an `ETag` (weak); a request whose `If-None-Match` names it gets 304 Not
   * Modified without a body, the answer before it still standing. Agents that predate this
   * answer 200 with no tag, which a manager takes as a full answer.
   */
  conditional?: true;
}

const endpoint = (e: AgentEndpoint) => e;

/** Every call of the protocol. Only /hello and /pair go without a token. */
export const AGENT_PROTOCOL = {
  hello: endpoint({ method: 'GET', path: 'agent/v1/hello', status: 200, answer: Hello }),
  pair: endpoint({
    method: 'POST',
    path: 'agent/v1/pair',
    status: 200,
    body: PairRequest,
    answer: PairAnswer,
  }),
  identity: endpoint({ method: 'GET', path: 'agent/v1/identity', status: 200, answer: IdentityAnswer }),
  status: endpoint({
    method: 'GET',
    path: 'agent/v1/status',
    status: 200,
    answer: AgentStatus,
    conditional: true,
  }),
  config: endpoint({ method: 'GET', path: 'agent/v1/config', status: 200, answer: ConfigAnswer }),
  applyConfig: endpoint({
    method: 'PUT',
    path: 'agent/v1/config',
    status: 200,
    body: ApplyRequest,
    answer: ApplyResult,
  }),
  connector: endpoint({
    method: 'GET',
    path: 'agent/v1/connectors/:name',
    status: 200,
    answer: ConnectorState,
  }),
  enableConnector: endpoint({
    method: 'POST',
    path: 'agent/v1/connectors/:name/enable',
    status: 200,
    answer: ConnectorState,
  }),
  configureConnector: endpoint({
    method: 'PUT',
    path: 'agent/v1/connectors/:name/config',
    status: 200,
    body: ConnectorConfigRequest,
    answer: ConnectorState,
  }),
  events: endpoint({
    method: 'GET',
    path: 'agent/v1/events',
    status: 200,
    query: EventsQuery,
    answer: EventsAnswer,
  }),
  upgradeState: endpoint({ method: 'GET', path: 'agent/v1/upgrade', status: 200, answer: UpgradeState }),
  upgrade: endpoint({
    method: 'POST',
    path: 'agent/v1/upgrade',
    status: 202,
    body: UpgradeRequest,
    answer: UpgradeState,
  }),
  licence: endpoint({ method: 'GET', path: 'agent/v1/license', status: 200, answer: LicenceDocument }),
  installLicence: endpoint({
    method: 'PUT',
    path: 'agent/v1/license',
    status: 200,
    body: LicenceRequest,
    answer: LicenceDocument,
  }),
  requestCertificate: endpoint({
    method: 'POST',
    path: 'agent/v1/certificate/request',
    status: 200,
    body: CertificateRequestRequest,
    answer: CertificateRequestAnswer,
  }),
  installCertificate: endpoint({
    method: 'PUT',
    path: 'agent/v1/certificate',
    status: 200,
    body: CertificateInstallRequest,
    answer: CertificateInstallAnswer,
  }),
} as const;

const matchers = Object.values(AGENT_PROTOCOL).map((e) => ({
  endpoint: e as AgentEndpoint,
  pattern: new RegExp(`^/?${e.path.replace(/:[a-z_]+/g, '[^/]+')}/?$`),
}));

/** The endpoints found per method and path (the manager polls one path 1,500 times a second). */
const endpointsFound = new Map<string, AgentEndpoint | null>();
const ENDPOINTS_KEPT = 1000;

/** The endpoint a call is for (`path` as the manager writes it: relative, query allowed); undefined: none. */
export function findAgentEndpoint(method: string, path: string): AgentEndpoint | undefined {
  const q = path.indexOf('?');
  const key = `${method} ${q < 0 ? path : path.slice(0, q)}`;
  let found = endpointsFound.get(key);
  if (found === undefined) {
    const bare = key.slice(method.length + 1);
    found = matchers.find((m) => m.endpoint.method === method && m.pattern.test(bare))?.endpoint ?? null;
    if (endpointsFound.size >= ENDPOINTS_KEPT) endpointsFound.clear();
    endpointsFound.set(key, found);
  }
  return found ?? undefined;
}
