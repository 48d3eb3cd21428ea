// One appliance's health over time (GET /api/v1/appliances/{id}/health/) and its maintenance
// switch (PATCH /api/v1/appliances/{id}/), for the appliance detail page.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type paths } from './client';
import { unwrap } from './errors';
import type { Ok } from './types';

export type HealthHistory = Ok<paths['/api/v1/appliances/{id}/health/']['get']>;
export type HealthSample = HealthHistory['samples'][number];

export function useApplianceHealth(id: number | null, hours: number) {
  return useQuery({
    queryKey: ['appliances', id, 'health', hours],
    enabled: id !== null,
    retry: false,
    // A new sample every 5 minutes at most; a minute keeps the chart near the latest one.
    refetchInterval: 60_000,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/appliances/{id}/health/', {
          params: { path: { id: id ?? 0 }, query: { hours } },
        }),
      ),
  });
}

export function useSetMaintenance() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ id, maintenance }: { id: number; maintenance: boolean }) =>
      unwrap(
        await api.PATCH('/api/v1/appliances/{id}/', { params: { path: { id } }, body: { maintenance } }),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['appliances'] }),
  });
}
