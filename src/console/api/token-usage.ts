// Least privilege after the fact: which of a token's scopes its requests used, and narrowing the
// token to those (GET /api/v1/tokens/{id}/usage/, POST /api/v1/tokens/{id}/narrow/).
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from './client';
import { unwrap } from './errors';
import { keys } from './identity';

export function useTokenUsage(id: number | null, window: string) {
  return useQuery({
    queryKey: ['tokens', id ?? 0, 'usage', window],
    enabled: id !== null,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/tokens/{id}/usage/', {
          params: { path: { id: id ?? 0 }, query: { window } },
        }),
      ),
  });
}

export function useNarrowToken() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ id, window }: { id: number; window: string }) =>
      unwrap(await api.POST('/api/v1/tokens/{id}/narrow/', { params: { path: { id } }, body: { window } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.tokens }),
  });
}
