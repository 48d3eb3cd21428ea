// Appliances, configuration groups and the fleet's activities.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from './client';
import { unwrap } from './errors';
import type { ActivityFilters, NewAppliance } from './types';

export function useAppliances() {
  return useQuery({
    queryKey: ['appliances'],
    retry: false,
    refetchInterval: 10_000,
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/appliances/', { params: { query: { page_size: 100 } } })),
  });
}

export function useAppliance(id: number | null) {
  return useQuery({
    queryKey: ['appliances', id],
    enabled: id !== null,
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/appliances/{id}/', { params: { path: { id: id ?? 0 } } })),
  });
}

export function useAddAppliance() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: NewAppliance) => unwrap(await api.POST('/api/v1/appliances/create/', { body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['appliances'] }),
  });
}

/** Hubs and workers pair (GET: the manager checks the agent's identity); analyzers take a token (PUT). */
export function useAuthorizeAppliance() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ id, token }: { id: number; token?: string }) =>
      token === undefined
        ? unwrap(await api.GET('/api/v1/appliances/{id}/authorization/', { params: { path: { id } } }))
        : unwrap(
            await api.PUT('/api/v1/appliances/{id}/authorization/', {
              params: { path: { id } },
              body: { token },
            }),
          ),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['appliances'] }),
  });
}

export function useDeleteAppliance() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (id: number) => {
      const res = await api.DELETE('/api/v1/appliances/{id}/', { params: { path: { id } } });
      if (!res.response.ok) unwrap(res);
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ['appliances'] }),
  });
}

export function useActivities(filters: ActivityFilters) {
  return useQuery({
    queryKey: ['activities', filters],
    retry: false,
    refetchInterval: 10_000,
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/activities/', { params: { query: { page_size: 100, ...filters } } })),
  });
}

export function useConfigGroups() {
  return useQuery({
    queryKey: ['config-groups'],
    retry: false,
    refetchInterval: 5_000,
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/config-group/list/', { params: { query: { page_size: 100 } } })),
  });
}

/** `version` changes whenever the group or a member's applied state does, so the diff follows. */
export function useConfigDiff(name: string | null, version = '') {
  return useQuery({
    queryKey: ['config-groups', name, 'diff', version],
    enabled: name !== null,
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/config-group/diff/{name}/', { params: { path: { name: name ?? '' } } })),
  });
}

export function useCreateConfigGroup() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (name: string) =>
      unwrap(await api.POST('/api/v1/config-group/create/', { body: { name } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['config-groups'] }),
  });
}

export function useApplyConfigGroup() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ name, appliances }: { name: string; appliances: string[] }) =>
      unwrap(
        await api.PUT('/api/v1/config-group/update/{name}/', {
          params: { path: { name } },
          body: { applyconfiguration: appliances },
        }),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['config-groups'] }),
  });
}

export function useDeleteConfigGroup() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (name: string) => {
      const res = await api.DELETE('/api/v1/config-group/delete/{name}/', { params: { path: { name } } });
      if (!res.response.ok) unwrap(res);
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ['config-groups'] }),
  });
}

export function useSaveConfigGroup() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({
      name,
      appliances,
      content,
    }: {
      name: string;
      appliances?: string[];
      content?: Record<string, unknown>;
    }) =>
      unwrap(
        await api.PATCH('/api/v1/config-group/save/{name}/', {
          params: { path: { name } },
          body: { ...(appliances ? { appliances } : {}), ...(content ? { content } : {}) },
        }),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['config-groups'] }),
  });
}
