// The appliance list's filters and sort orders, defined once: the list route
// (GET /api/v1/appliances/) and any other route that walks the same list (an export) spread
// `ApplianceFilterQuery` into their querystring and hand the parsed query to
// `FleetService.list`, which hands it to the one repository function that filters
// (`FleetRepo.listAppliances`). Declarations only, no HTTP and no SQL.
import { Type } from 'typebox';
import { OrderingQuery, PageQuery } from '../../http/pagination.js';
import { StrictObject } from '../../http/schemas.js';
import { CONFIG_STATUSES } from './fleet.schemas.js';
import { APPLIANCE_ORDERING, APPLIANCE_STATES } from './fleet.states.js';

/** The filters of the appliance list, to spread into a querystring schema. */
export const ApplianceFilterQuery = {
  search: Type.Optional(
    Type.String({
      maxLength: 200,
      description: 'Case-insensitive substring of the name, the URL or the host name the agent reported',
      examples: ['worker'],
    }),
  ),
  state: Type.Optional(
    Type.String({
      maxLength: 100,
      description: `One state or several, comma-separated: ${APPLIANCE_STATES.join(', ')}. An unknown state is a 400 naming \`query.state\`. Each appliance is in exactly one: \`unauthorized\` (not authorized yet), else \`maintenance\`, else \`online\`, \`degraded\` or \`offline\` (not answering).`,
      examples: ['offline,unauthorized'],
    }),
  ),
  type: Type.Optional(
    Type.String({
      maxLength: 40,
      description: 'a1000, tiscale-worker or tiscale-hub (or analyze, worker, hub)',
      examples: ['tiscale-worker'],
    }),
  ),
  authorized: Type.Optional(Type.Boolean({ description: 'Authorized or not (see also `state`)' })),
  online: Type.Optional(Type.Boolean({ description: 'Answering the last poll or not (see also `state`)' })),
  configuration_status: Type.Optional(
    Type.Enum(CONFIG_STATUSES, { description: 'Where the appliance stands with its configuration' }),
  ),
  group_name: Type.Optional(
    Type.String({ maxLength: 100, description: 'Name of its configuration group', examples: ['TestGroup1'] }),
  ),
  ...OrderingQuery(APPLIANCE_ORDERING),
};

/** The querystring of GET /api/v1/appliances/: pagination and the filters. */
export const ApplianceListQuery = StrictObject({ ...PageQuery, ...ApplianceFilterQuery });
