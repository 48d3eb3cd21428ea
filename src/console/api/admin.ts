// Appliance connectors and certificates, licensing, the package store and upgrades, hub groups,
// and stored files: every call a documented path of the manager's API.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from './client';
import { unwrap } from './errors';
import { fileForm, multipart } from './multipart';
import type { ConnectorName, FileFilters, NewHubGroup } from './types';

// --- Connectors (hubs) -------------------------------------------------------------------------

const connectorPath = (id: number, name: ConnectorName) => ({
  path: { id: String(id), connector_name: name },
});

export function useConnector(id: number, name: ConnectorName | null) {
  return useQuery({
    queryKey: ['connectors', id, name],
    enabled: name !== null,
    retry: false,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/appliances/{id}/connectors/{connector_name}/v1/config/', {
          params: connectorPath(id, name as ConnectorName),
        }),
      ),
  });
}

export function useEnableConnector(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (name: ConnectorName) =>
      unwrap(
        await api.POST('/api/v1/appliances/{id}/connectors/{connector_name}/', {
          params: connectorPath(id, name),
        }),
      ),
    onSuccess: (_d, name) => qc.invalidateQueries({ queryKey: ['connectors', id, name] }),
  });
}

export function useSaveConnector(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ name, config }: { name: ConnectorName; config: Record<string, unknown> }) =>
      unwrap(
        await api.POST('/api/v1/appliances/{id}/connectors/{connector_name}/v1/config/', {
          params: connectorPath(id, name),
          body: config,
        }),
      ),
    onSuccess: (_d, { name }) => qc.invalidateQueries({ queryKey: ['connectors', id, name] }),
  });
}

export function useUploadCertificate(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (file: File) =>
      unwrap(
        await api.POST('/api/v1/appliances/upload-certificate/{id}/', {
          params: { path: { id } },
          ...multipart(fileForm(file)),
        }),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['appliances'] }),
  });
}

// --- Licensing ---------------------------------------------------------------------------------

export function useManagerLicense() {
  return useQuery({
    queryKey: ['license', 'manager'],
    retry: false,
    queryFn: async () => unwrap(await api.GET('/api/v1/license/manager/')),
  });
}

export function useGenerateMachineId() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async () => unwrap(await api.POST('/api/v1/license/machine-id/generate/')),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['license'] }),
  });
}

export function useUploadManagerLicense() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (file: File) =>
      unwrap(await api.PUT('/api/v1/license/upload/', multipart(fileForm(file)))),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['license'] }),
  });
}

/** Appliance licences; GET /api/v1/license/ also gives a machine id to appliances without one. */
export function useApplianceLicenses() {
  return useQuery({
    queryKey: ['license', 'appliances'],
    retry: false,
    queryFn: async () => unwrap(await api.GET('/api/v1/license/', { params: { query: { page_size: 100 } } })),
  });
}

export function useInstallApplianceLicense() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (file: File) =>
      unwrap(await api.PUT('/api/v1/appliances/licensing/', multipart(fileForm(file)))),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['license'] }),
  });
}

export function useRegenerateApplianceMachineIds() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async () =>
      unwrap(
        await api.GET('/api/v1/appliances/licensing/machine-id/', { params: { query: { page_size: 100 } } }),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['license'] }),
  });
}

// --- Packages and upgrades ---------------------------------------------------------------------

export function usePackages() {
  return useQuery({
    queryKey: ['packages'],
    retry: false,
    queryFn: async () => unwrap(await api.GET('/api/v1/package-management/')),
  });
}

export function useUploadPackage() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (file: File) =>
      unwrap(await api.POST('/api/v1/package-management/upload/', multipart(fileForm(file)))),
    onSuccess: async () => {
      // A new package changes which version each appliance may take (available_update_version).
      await Promise.all([
        qc.invalidateQueries({ queryKey: ['packages'] }),
        qc.invalidateQueries({ queryKey: ['appliances'] }),
      ]);
    },
  });
}

export function useStartUpgrade() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (applianceName: string) =>
      unwrap(await api.POST('/api/upgrade/start/', { body: { appliance_name: applianceName } })),
    onSuccess: (_d, name) =>
      Promise.all([
        qc.invalidateQueries({ queryKey: ['upgrade', name] }),
        qc.invalidateQueries({ queryKey: ['appliances'] }),
      ]),
  });
}

const RUNNING = new Set(['pending', 'downloading', 'installing']);

/** The status route is a POST in the seed; it changes nothing, so it is polled like a query. */
export function useUpgradeStatus(applianceName: string | null) {
  return useQuery({
    queryKey: ['upgrade', applianceName],
    enabled: applianceName !== null,
    retry: false,
    refetchInterval: (q) => (q.state.data && RUNNING.has(q.state.data.status) ? 1_000 : false),
    queryFn: async () =>
      unwrap(await api.POST('/api/upgrade/status/', { body: { appliance_name: applianceName ?? '' } })),
  });
}

export const isUpgradeRunning = (status: string | undefined) => status !== undefined && RUNNING.has(status);

// --- Hub groups --------------------------------------------------------------------------------

export function useCreateHubGroup() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: NewHubGroup) =>
      unwrap(await api.POST('/api/v1/tiscale-hub-group/create/', { body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['config-groups'] }),
  });
}

export function useSaveHubGroup() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({
      name,
      appliances,
      content,
    }: {
      name: string;
      appliances: string[];
      content: Record<string, unknown>;
    }) =>
      unwrap(
        await api.PUT('/api/v1/tiscale-hub-group/save/{name}/', {
          params: { path: { name } },
          body: { appliances, content },
        }),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['config-groups'] }),
  });
}

export function useApplyHubGroup() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ name, appliances }: { name: string; appliances: string[] }) =>
      unwrap(
        await api.PATCH('/api/v1/tiscale-hub-group/update/{name}/', {
          params: { path: { name } },
          body: { appliances },
        }),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['config-groups'] }),
  });
}

// --- Files -------------------------------------------------------------------------------------

export function useFiles(filters: FileFilters) {
  return useQuery({
    queryKey: ['files', filters],
    retry: false,
    // Keep the rows on screen while a new filter loads, instead of flashing "Loading…".
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/files/', { params: { query: { page_size: 100, ...filters } } })),
  });
}

export function useUploadFile() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({
      file,
      tags,
      profile,
      visibility,
    }: {
      file: File;
      tags: string[];
      profile: string;
      visibility: string;
    }) =>
      unwrap(
        await api.POST(
          '/api/v1/files/',
          multipart(fileForm(file, { tags: tags.join(','), profile, visibility })),
        ),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['files'] }),
  });
}

export function useDeleteFile() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (id: number) => {
      const res = await api.DELETE('/api/v1/files/{id}/', { params: { path: { id } } });
      if (!res.response.ok) unwrap(res);
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ['files'] }),
  });
}

const FILE_DOWNLOAD = '/api/v1/files/{id}/download/' satisfies keyof import('./schema.gen').paths;
/** A plain link: the browser downloads with the session cookie (a documented GET path). */
export const fileDownloadUrl = (id: number) => FILE_DOWNLOAD.replace('{id}', String(id));
