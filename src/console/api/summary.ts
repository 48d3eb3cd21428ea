// The fleet at a glance (GET /api/v1/summary/), for the dashboard.
import { useQuery } from '@tanstack/react-query';
import { api } from './client';
import { unwrap } from './errors';

/** `enabled`: only for accounts that may read the fleet (a refused request would be audited). */
export function useSummary(enabled = true) {
  return useQuery({
    queryKey: ['summary'],
    enabled,
    retry: false,
    // The figures move with polling (every 10 s by default), so the page follows them.
    refetchInterval: 10_000,
    queryFn: async () => unwrap(await api.GET('/api/v1/summary/')),
  });
}
