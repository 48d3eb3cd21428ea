// Shapes of the manager's resources, taken from the generated OpenAPI types (never hand-written).
import type { paths } from './schema.gen';

export type Json<R> = R extends { content: { 'application/json': infer T } } ? T : never;
export type Ok<Op> = Op extends { responses: infer R }
  ? R extends { 200: infer A }
    ? Json<A>
    : R extends { 201: infer B }
      ? Json<B>
      : R extends { 202: infer C }
        ? Json<C>
        : never
  : never;
export type Body<Op> = Op extends { requestBody?: { content: { 'application/json': infer T } } } ? T : never;

export type WhoAmI = Ok<paths['/api/v1/auth/whoami/']['get']>;
export type User = WhoAmI['user'];
export type Role = User['role'];
export type Session = Ok<paths['/api/v1/auth/sessions/']['get']>[number];
export type Token = Ok<paths['/api/v1/tokens/']['get']>['results'][number];
export type NewToken = Body<paths['/api/v1/tokens/']['post']>;
export type TokenPatch = Body<paths['/api/v1/tokens/{id}/']['patch']>;
export type TokenWithSecret = Ok<paths['/api/v1/tokens/']['post']>;
export type TokenActivity = Ok<paths['/api/v1/tokens/{id}/activity/']['get']>['results'][number];
export type TokenSettings = Ok<paths['/api/v1/config/api_tokens/']['get']>;
export type NewUser = Body<paths['/api/v1/authentication/users/add/']['post']>;
export type UserPatch = Body<paths['/api/v1/authentication/users/{id}/']['patch']>;
export type Group = Ok<paths['/api/v1/authentication/groups/']['get']>[number];
export type AuditEntry = Ok<paths['/api/v1/audit/']['get']>['results'][number];
export type AuditFilters = NonNullable<paths['/api/v1/audit/']['get']['parameters']['query']>;
export type ActivityFilters = NonNullable<paths['/api/v1/activities/']['get']['parameters']['query']>;
export type Appliance = Ok<paths['/api/v1/appliances/']['get']>['results'][number];
export type NewAppliance = Body<paths['/api/v1/appliances/create/']['post']>;
export type Activity = Ok<paths['/api/v1/activities/']['get']>['results'][number];
export type ConfigGroup = Ok<paths['/api/v1/config-group/list/']['get']>['results'][number];
export type ConfigDiff = Ok<paths['/api/v1/config-group/diff/{name}/']['get']>;
export type BackupStatus = Ok<paths['/api/v1/backup/']['get']>;

/** Every permission area a token can carry (the server's catalog, shared through src/contract). */
export { AREAS } from '../../contract/permissions.js';

export type ConnectorState = Ok<
  paths['/api/v1/appliances/{id}/connectors/{connector_name}/v1/config/']['get']
>;
export type ConnectorName =
  paths['/api/v1/appliances/{id}/connectors/{connector_name}/v1/config/']['get']['parameters']['path']['connector_name'];
export type ManagerLicense = Ok<paths['/api/v1/license/manager/']['get']>;
export type ApplianceLicense = Ok<paths['/api/v1/appliances/licensing/']['get']>['results'][number];
export type PackageStore = Ok<paths['/api/v1/package-management/']['get']>;
export type UpgradeStatus = Ok<paths['/api/upgrade/status/']['post']>;
export type NewHubGroup = Body<paths['/api/v1/tiscale-hub-group/create/']['post']>;
export type StoredFile = Ok<paths['/api/v1/files/']['get']>['results'][number];
export type FileFilters = NonNullable<paths['/api/v1/files/']['get']['parameters']['query']>;
export type Summary = Ok<paths['/api/v1/summary/']['get']>;
export type AttentionItem = Summary['attention'][number];
