// The audit log, read page by page over its keyset cursor (the `next` link).
import { useInfiniteQuery } from '@tanstack/react-query';
import { api } from './client';
import { unwrap } from './errors';
import type { AuditFilters } from './types';

function cursorOf(next: string | null): string | undefined {
  if (!next) return undefined;
  return new URL(next, globalThis.location?.origin).searchParams.get('cursor') ?? undefined;
}

export function useAuditLog(filters: AuditFilters) {
  return useInfiniteQuery({
    queryKey: ['audit', filters],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET('/api/v1/audit/', {
          params: { query: { ...filters, limit: 50, ...(pageParam ? { cursor: pageParam } : {}) } },
        }),
      ),
    getNextPageParam: (last) => cursorOf(last.next),
  });
}
