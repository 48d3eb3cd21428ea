// System settings sections and backups.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from './client';
import { unwrap } from './errors';

/** The settings sections the manager documents, each one page of the console. */
export const SETTINGS_SECTIONS = [
  { key: 'network', title: 'Network' },
  { key: 'ntp', title: 'Time (NTP)' },
  { key: 'directory', title: 'Directory (LDAP)' },
  { key: 'sshd', title: 'SSH' },
  { key: 'ticloud', title: 'Threat cloud' },
  { key: 'snmp', title: 'SNMP' },
  { key: 'smtp', title: 'Email (SMTP)' },
  { key: 'systemalerting', title: 'System alerting' },
  { key: 'central_logging', title: 'Central logging' },
  { key: 'sync', title: 'Synchronisation' },
] as const;
export type SettingsSection = (typeof SETTINGS_SECTIONS)[number]['key'];
export type SettingsValues = Record<string, unknown>;

// One typed call per section: the paths are literal so the build fails if one disappears.
async function readSection(section: SettingsSection): Promise<SettingsValues> {
  switch (section) {
    case 'network':
      return unwrap(await api.GET('/api/v1/config/network/'));
    case 'ntp':
      return unwrap(await api.GET('/api/v1/config/ntp/'));
    case 'directory':
      return unwrap(await api.GET('/api/v1/config/directory/'));
    case 'sshd':
      return unwrap(await api.GET('/api/v1/system/config/sshd/'));
    case 'ticloud':
      return unwrap(await api.GET('/api/v1/config/ticloud/'));
    case 'snmp':
      return unwrap(await api.GET('/api/v1/config/snmp/'));
    case 'smtp':
      return unwrap(await api.GET('/api/v1/config/smtp/'));
    case 'systemalerting':
      return unwrap(await api.GET('/api/v1/config/systemalerting/'));
    case 'central_logging':
      return unwrap(await api.GET('/api/v1/config/central_logging/'));
    case 'sync':
      return unwrap(await api.GET('/api/v1/config/sync/'));
  }
}

async function writeSection(section: SettingsSection, values: SettingsValues): Promise<unknown> {
  // The bodies are section-specific; the manager validates them and names bad fields.
  // biome-ignore lint/suspicious/noExplicitAny: a section's body type is chosen at run time
  const body = values as any;
  switch (section) {
    case 'network':
      return unwrap(await api.POST('/api/v1/config/network/', { body }));
    case 'ntp':
      return unwrap(await api.POST('/api/v1/config/ntp/', { body }));
    case 'directory':
      return unwrap(await api.POST('/api/v1/config/directory/', { body }));
    case 'sshd':
      return unwrap(await api.POST('/api/v1/system/config/sshd/', { body }));
    case 'ticloud':
      return unwrap(await api.POST('/api/v1/config/ticloud/', { body }));
    case 'snmp':
      return unwrap(await api.POST('/api/v1/config/snmp/', { body }));
    case 'smtp':
      return unwrap(await api.POST('/api/v1/config/smtp/', { body }));
    case 'systemalerting':
      return unwrap(await api.POST('/api/v1/config/systemalerting/', { body }));
    case 'central_logging':
      return unwrap(await api.POST('/api/v1/config/central_logging/', { body }));
    case 'sync':
      return unwrap(await api.POST('/api/v1/config/sync/', { body }));
  }
}

export function useSettings(section: SettingsSection) {
  return useQuery({ queryKey: ['settings', section], retry: false, queryFn: () => readSection(section) });
}

export function useSaveSettings(section: SettingsSection) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (values: SettingsValues) => writeSection(section, values),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['settings', section] }),
  });
}

export function useBackupStatus(poll: boolean) {
  return useQuery({
    queryKey: ['backup'],
    retry: false,
    refetchInterval: poll ? 1_000 : false,
    queryFn: async () => unwrap(await api.GET('/api/v1/backup/')),
  });
}

export function useCreateBackup() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (passphrase: string) =>
      unwrap(await api.POST('/api/v1/backup/create/', { body: passphrase ? { passphrase } : {} })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['backup'] }),
  });
}

/** A plain link (the browser downloads it with the session cookie); documented GET path. */
export const BACKUP_DOWNLOAD_URL = '/api/v1/backup/download/' satisfies keyof import('./schema.gen').paths;

export function useRestoreBackup() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ file, passphrase }: { file: File; passphrase: string }) => {
      const form = new FormData();
      form.set('file', file);
      if (passphrase) form.set('passphrase', passphrase);
      return unwrap(
        await api.POST('/api/v1/backup/restore-upload/', {
          // biome-ignore lint/suspicious/noExplicitAny: multipart body is not described as JSON
          body: form as any,
          bodySerializer: (b: unknown) => b as FormData,
        }),
      );
    },
    onSuccess: () => qc.invalidateQueries(),
  });
}

export const API_DOCS_URL = '/api/docs';
