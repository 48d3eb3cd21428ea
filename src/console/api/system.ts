// System settings sections and backups.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { paths } from './client';
import { api } from './client';
import { unwrap } from './errors';
import { multipart } from './multipart';
import type { Body, Ok } from './types';

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
/** Every section with a form: the settings pages, and the licensing page's cloud connection. */
export type FormSection = SettingsSection | 'license_cloud';

/** Each section's documented path; the GET answer and POST body types come from the document. */
const SECTION_PATHS = {
  network: '/api/v1/config/network/',
  ntp: '/api/v1/config/ntp/',
  directory: '/api/v1/config/directory/',
  sshd: '/api/v1/system/config/sshd/',
  ticloud: '/api/v1/config/ticloud/',
  snmp: '/api/v1/config/snmp/',
  smtp: '/api/v1/config/smtp/',
  systemalerting: '/api/v1/config/systemalerting/',
  central_logging: '/api/v1/config/central_logging/',
  sync: '/api/v1/config/sync/',
  license_cloud: '/api/v1/license/configure/cloud/',
} as const satisfies Record<FormSection, keyof paths>;
type PathOf<S extends FormSection> = (typeof SECTION_PATHS)[S];

/** What GET answers for a section (typed from the manager's response schema). */
export type SettingsOf<S extends FormSection> = Ok<paths[PathOf<S>]['get']>;
/** What POST takes for a section: only the fields that change. */
export type SettingsPatch<S extends FormSection> = Body<paths[PathOf<S>]['post']>;

async function readSection<S extends FormSection>(section: S): Promise<SettingsOf<S>> {
  // The union of ten literal paths is too wide for openapi-fetch's overloads; each path is still a
  // documented one (SECTION_PATHS is checked against `paths` above).
  const get = api.GET as unknown as (
    p: string,
  ) => Promise<{ data?: SettingsOf<S>; error?: unknown; response: Response }>;
  return unwrap(await get(SECTION_PATHS[section]));
}

async function writeSection<S extends FormSection>(
  section: S,
  body: SettingsPatch<S>,
): Promise<SettingsOf<S>> {
  const post = api.POST as unknown as (
    p: string,
    init: { body: SettingsPatch<S> },
  ) => Promise<{ data?: SettingsOf<S>; error?: unknown; response: Response }>;
  return unwrap(await post(SECTION_PATHS[section], { body }));
}

export function useSettings<S extends FormSection>(section: S) {
  return useQuery({ queryKey: ['settings', section], retry: false, queryFn: () => readSection(section) });
}

export function useSaveSettings<S extends FormSection>(section: S) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (values: SettingsPatch<S>) => writeSection(section, values),
    onSuccess: (data) => qc.setQueryData(['settings', section], data),
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
          ...multipart(form),
        }),
      );
    },
    onSuccess: () => qc.invalidateQueries(),
  });
}

export const API_DOCS_URL = '/api/docs';
