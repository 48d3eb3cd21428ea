// The view of the appliance list lives in the URL's query string, under the API's own names
// (search, state, type, group_name, configuration_status, ordering, page, page_size): a shared
// link opens the same view, reload keeps it, and back/forward walk through the changes.
import { useCallback, useMemo } from 'react';
import { useSearchParams } from 'react-router';
import type { ApplianceQuery } from '../../api/fleet';

export const STATES = ['online', 'degraded', 'offline', 'maintenance', 'unauthorized'] as const;
export type ApplianceStateName = (typeof STATES)[number];

export const STATE_LABELS: Record<ApplianceStateName, string> = {
  online: 'Online',
  degraded: 'Degraded',
  offline: 'Offline',
  maintenance: 'Maintenance',
  unauthorized: 'Unauthorized',
};

export const PAGE_SIZES = ['10', '20', '50', '100'] as const;

const FILTERS = ['search', 'state', 'type', 'group_name', 'configuration_status'] as const;
type FilterName = (typeof FILTERS)[number];

export interface ListView {
  search: string;
  states: string[];
  type: string | null;
  group: string | null;
  config: string | null;
  /** The sort field and direction, or null for the API's default (by id). */
  sort: { field: string; desc: boolean } | null;
  page: number;
  pageSize: number;
  /** Whether any filter (not sort or page) narrows the list. */
  filtered: boolean;
}

function positive(v: string | null, fallback: number, max: number): number {
  const n = Number(v);
  return Number.isInteger(n) && n >= 1 && n <= max ? n : fallback;
}

export function useListView() {
  const [params, setParams] = useSearchParams();

  const view: ListView = useMemo(() => {
    const ordering = params.get('ordering');
    const field = ordering?.replace(/^-/, '') ?? '';
    return {
      search: params.get('search') ?? '',
      states: (params.get('state') ?? '').split(',').filter((s) => (STATES as readonly string[]).includes(s)),
      type: params.get('type'),
      group: params.get('group_name'),
      config: params.get('configuration_status'),
      sort: field ? { field, desc: ordering?.startsWith('-') ?? false } : null,
      page: positive(params.get('page'), 1, 1_000_000),
      pageSize: positive(params.get('page_size'), 20, 100),
      filtered: FILTERS.some((f) => (params.get(f) ?? '') !== ''),
    };
  }, [params]);

  /** The API query of this view. */
  const query: ApplianceQuery = useMemo(() => {
    const q: ApplianceQuery = { page: view.page, page_size: view.pageSize };
    if (view.search.trim()) q.search = view.search.trim();
    if (view.states.length > 0) q.state = view.states.join(',');
    if (view.type) q.type = view.type;
    if (view.group) q.group_name = view.group;
    if (view.config) q.configuration_status = view.config as ApplianceQuery['configuration_status'];
    if (view.sort) q.ordering = `${view.sort.desc ? '-' : ''}${view.sort.field}`;
    return q;
  }, [view]);

  /**
   * Changes some parameters (null or '' removes one). A filter change goes back to page 1.
   * `replace` keeps typing in the search box from filling the history.
   */
  const update = useCallback(
    (
      changes: Partial<Record<FilterName | 'ordering' | 'page' | 'page_size', string | null>>,
      replace = false,
    ) => {
      setParams(
        (prev) => {
          const next = new URLSearchParams(prev);
          for (const [k, v] of Object.entries(changes)) {
            if (v === null || v === undefined || v === '') next.delete(k);
            else next.set(k, v);
          }
          if (!('page' in changes)) next.delete('page');
          return next;
        },
        { replace },
      );
    },
    [setParams],
  );

  /** Clicking a column header: ascending, then descending, then the default order. */
  const toggleSort = useCallback(
    (field: string) => {
      const s = view.sort;
      const next = s?.field !== field ? field : s.desc ? null : `-${field}`;
      update({ ordering: next });
    },
    [view.sort, update],
  );

  const clearFilters = useCallback(
    () => update(Object.fromEntries(FILTERS.map((f) => [f, null])) as Record<FilterName, null>),
    [update],
  );

  return { view, query, update, toggleSort, clearFilters };
}
