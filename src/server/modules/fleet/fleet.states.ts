// The one state of an appliance and the sort orders of the appliance list: plain values that
// the service, the views and the list's querystring schema (fleet.list-query.ts) share.

/**
 * The one state an appliance is in, in this order of precedence (the dashboard's summary counts
 * the same way): `unauthorized` (not authorized yet), `maintenance` (authorized, in maintenance,
 * answering or not), then `online`, `degraded` (answering, reporting degraded health) or
 * `offline` (not answering).
 */
export const APPLIANCE_STATES = ['online', 'degraded', 'offline', 'maintenance', 'unauthorized'] as const;
export type ApplianceState = (typeof APPLIANCE_STATES)[number];

/** What `ordering` may name; every order ends with `id` so pages never overlap. */
export const APPLIANCE_ORDERING = [
  'name',
  'type',
  'state',
  'last_seen_online',
  'latency',
  'release',
  'group_name',
  'configuration_status',
  'created',
  'id',
] as const;
export type ApplianceOrderField = (typeof APPLIANCE_ORDERING)[number];
export type ApplianceOrderTerm = { field: ApplianceOrderField; direction: 'asc' | 'desc' };

/** The terms of a parsed `ordering` (parseOrdering checked them against APPLIANCE_ORDERING), typed. */
export function applianceOrder(
  terms: readonly { field: string; direction: 'asc' | 'desc' }[],
): ApplianceOrderTerm[] {
  return terms.filter((t): t is ApplianceOrderTerm =>
    (APPLIANCE_ORDERING as readonly string[]).includes(t.field),
  );
}

/** What the filters of `ApplianceFilterQuery` look like once validated (ordering is parsed apart). */
export interface ApplianceFilter {
  search?: string | undefined;
  state?: string | undefined;
  type?: string | undefined;
  authorized?: boolean | undefined;
  online?: boolean | undefined;
  configuration_status?: string | undefined;
  group_name?: string | undefined;
}

/** The state of one row, by the precedence of `APPLIANCE_STATES` (the repository's SQL agrees). */
export function stateOf(r: {
  authorized: boolean;
  maintenance: boolean;
  online: boolean;
  status: string;
}): ApplianceState {
  if (!r.authorized) return 'unauthorized';
  if (r.maintenance) return 'maintenance';
  if (!r.online) return 'offline';
  return r.status === 'degraded' ? 'degraded' : 'online';
}
