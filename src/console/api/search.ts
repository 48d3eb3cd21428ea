// What the Ctrl+K palette looks up on the manager: appliances by name.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api } from './client';
import { unwrap } from './errors';

/** Up to 8 appliances whose name contains `search`; nothing is asked for an empty search. */
export function useApplianceSearch(search: string, enabled: boolean) {
  return useQuery({
    queryKey: ['appliances', 'search', search],
    enabled: enabled && search !== '',
    placeholderData: keepPreviousData,
    staleTime: 10_000,
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/appliances/', { params: { query: { search, page_size: 8 } } })),
  });
}
