// Appliances, configuration groups and the fleet's activities.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type paths } from './client';
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

/** The query of the appliance list (filters, ordering, page), as the API takes it. */
export type ApplianceQuery = NonNullable<paths['/api/v1/appliances/']['get']['parameters']['query']>;

/** One page of the appliance list; the previous page stays on screen while the next loads. */
export function useApplianceList(query: ApplianceQuery) {
  return useQuery({
    queryKey: ['appliances', 'list', query],
    retry: false,
    refetchInterval: 10_000,
    placeholderData: keepPreviousData,
    queryFn: async () => unwrap(await api.GET('/api/v1/appliances/', { params: { query } })),
  });
}

/** The `steward agent` command that enrolls an appliance with this manager, and its fingerprint. */
export function useEnrollment(type: string, enabled = true) {
  return useQuery({
    queryKey: ['appliances', 'enrollment', type],
    enabled,
    retry: false,
    staleTime: 60_000,
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/appliances/enrollment/', { params: { query: { type } } })),
  });
}

/** One appliance's answer to a bulk action: done, or refused with the API's reason. */
export type BulkAction = 'authorize' | 'maintenance_on' | 'maintenance_off' | 'group' | 'remove';

/** The group a bulk "Add to group" targets: a configuration group or a hub group. */
export interface GroupTarget {
  name: string;
  kind: 'standard' | 'hub';
}

/**
 * Runs one action on one appliance through its own endpoint (each checks the permission and
 * writes its audit record); throws the API's error when refused.
 */
export async function runApplianceAction(
  action: BulkAction,
  a: { id: number; name: string },
  group?: GroupTarget,
): Promise<void> {
  const path = { id: a.id };
  switch (action) {
    case 'authorize':
      unwrap(await api.GET('/api/v1/appliances/{id}/authorization/', { params: { path } }));
      return;
    case 'maintenance_on':
    case 'maintenance_off':
      unwrap(
        await api.PATCH('/api/v1/appliances/{id}/', {
          params: { path },
          body: { maintenance: action === 'maintenance_on' },
        }),
      );
      return;
    case 'group':
      if (group?.kind === 'hub') await addToHubGroup(group.name, a.name);
      else
        unwrap(
          await api.PATCH('/api/v1/config-group/save/{name}/', {
            params: { path: { name: group?.name ?? '' } },
            body: { appliances: [a.name] },
          }),
        );
      return;
    case 'remove': {
      const res = await api.DELETE('/api/v1/appliances/{id}/', { params: { path } });
      if (!res.response.ok) unwrap(res);
      return;
    }
  }
}

/**
 * Adds one appliance to a hub group: PATCH merges into the members on the server, with the group
 * locked, so a member another admin added meanwhile stays. No content: no new revision.
 */
async function addToHubGroup(name: string, appliance: string): Promise<void> {
  unwrap(
    await api.PATCH('/api/v1/tiscale-hub-group/save/{name}/', {
      params: { path: { name } },
      body: { appliances: [appliance] },
    }),
  );
}
