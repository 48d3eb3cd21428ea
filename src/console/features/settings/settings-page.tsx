// Settings: one page per section of /api/v1/config/...; secrets are write-only (`*_set`).
import {
  Alert,
  Button,
  Group,
  NumberInput,
  Paper,
  PasswordInput,
  Stack,
  Switch,
  Text,
  TextInput,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertCircle } from '@tabler/icons-react';
import { type FormEvent, useEffect, useState } from 'react';
import { useParams } from 'react-router';
import { fieldError, formErrorMessage } from '../../api/errors';
import { useSaveTokenSettings, useTokenSettings } from '../../api/identity';
import {
  SETTINGS_SECTIONS,
  type SettingsSection,
  type SettingsValues,
  useSaveSettings,
  useSettings,
} from '../../api/system';
import type { TokenSettings } from '../../api/types';
import { ErrorState, NotAvailable, PageHeader } from '../../components/common';
import { useSession } from '../auth/session';

const label = (key: string) => key.replaceAll('_', ' ').replace(/^./, (c) => c.toUpperCase());

function TokenSettingsForm({ canWrite }: { canWrite: boolean }) {
  const settings = useTokenSettings();
  const save = useSaveTokenSettings();
  const [v, setV] = useState<TokenSettings | null>(null);
  useEffect(() => {
    if (settings.data) setV(settings.data);
  }, [settings.data]);
  if (settings.error) return <ErrorState error={settings.error} what="token settings" />;
  if (!v) return <Text c="dimmed">Loading…</Text>;
  const err = save.error;
  const num = (x: number | string) => (x === '' ? null : Number(x));
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate(v, {
          onSuccess: () => notifications.show({ color: 'green', message: 'Token settings saved' }),
        });
      }}
      noValidate
    >
      <Stack gap="sm" maw={560}>
        {err && (
          <Alert color="red" icon={<IconAlertCircle />} role="alert">
            {formErrorMessage(err)}
          </Alert>
        )}
        <Switch
          label="User-defined API tokens"
          description="Let every user manage their own tokens (off: only admins)"
          checked={v.user_defined_tokens}
          disabled={!canWrite}
          onChange={(e) => setV({ ...v, user_defined_tokens: e.currentTarget.checked })}
        />
        <Switch
          label="Allow tokens in the URL"
          description="Tokens that permit it may be sent as ?token= (the open-API method)"
          checked={v.allow_tokens_in_url}
          disabled={!canWrite}
          onChange={(e) => setV({ ...v, allow_tokens_in_url: e.currentTarget.checked })}
        />
        <NumberInput
          label="Default lifetime (days)"
          description="Empty: tokens do not expire unless asked"
          min={1}
          max={3650}
          value={v.default_lifetime_days ?? ''}
          disabled={!canWrite}
          onChange={(x) => setV({ ...v, default_lifetime_days: num(x) })}
          error={fieldError(err, 'default_lifetime_days')}
        />
        <NumberInput
          label="Maximum lifetime (days)"
          description="Empty: no cap"
          min={1}
          max={3650}
          value={v.max_lifetime_days ?? ''}
          disabled={!canWrite}
          onChange={(x) => setV({ ...v, max_lifetime_days: num(x) })}
          error={fieldError(err, 'max_lifetime_days')}
        />
        <NumberInput
          label="Default rate limit (requests per minute)"
          description="Empty: none"
          min={1}
          value={v.default_rate_limit_per_minute ?? ''}
          disabled={!canWrite}
          onChange={(x) => setV({ ...v, default_rate_limit_per_minute: num(x) })}
          error={fieldError(err, 'default_rate_limit_per_minute')}
        />
        {canWrite && (
          <Group justify="flex-end">
            <Button type="submit" loading={save.isPending}>
              Save
            </Button>
          </Group>
        )}
      </Stack>
    </form>
  );
}

function SectionForm({ section, canWrite }: { section: SettingsSection; canWrite: boolean }) {
  const values = useSettings(section);
  const save = useSaveSettings(section);
  const [draft, setDraft] = useState<SettingsValues>({});
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  useEffect(() => {
    if (values.data) {
      setDraft(values.data);
      setSecrets({});
    }
  }, [values.data]);
  if (values.error) return <ErrorState error={values.error} what={`the ${section} settings`} />;
  if (!values.data) return <Text c="dimmed">Loading…</Text>;
  const err = save.error;
  const original = values.data;
  // `password_set: true` stands for a write-only `password` field.
  const secretKeys = Object.keys(original)
    .filter((k) => k.endsWith('_set') && typeof original[k] === 'boolean')
    .map((k) => k.slice(0, -4));
  const keys = Object.keys(original).filter((k) => !k.endsWith('_set') || typeof original[k] !== 'boolean');

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const changed: SettingsValues = {};
    for (const k of keys) if (JSON.stringify(draft[k]) !== JSON.stringify(original[k])) changed[k] = draft[k];
    for (const [k, v] of Object.entries(secrets)) if (v !== '') changed[k] = v;
    save.mutate(changed, {
      onSuccess: () => notifications.show({ color: 'green', message: 'Settings saved' }),
    });
  };

  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="sm" maw={560}>
        {err && (
          <Alert color="red" icon={<IconAlertCircle />} role="alert">
            {formErrorMessage(err)}
          </Alert>
        )}
        {keys.map((k) => {
          const v = draft[k];
          const common = { label: label(k), error: fieldError(err, k), disabled: !canWrite };
          if (typeof original[k] === 'boolean')
            return (
              <Switch
                key={k}
                {...common}
                checked={v === true}
                onChange={(e) => setDraft({ ...draft, [k]: e.currentTarget.checked })}
              />
            );
          if (typeof original[k] === 'number')
            return (
              <NumberInput
                key={k}
                {...common}
                value={typeof v === 'number' ? v : ''}
                onChange={(x) => setDraft({ ...draft, [k]: x === '' ? null : Number(x) })}
              />
            );
          if (typeof original[k] === 'string' || original[k] === null)
            return (
              <TextInput
                key={k}
                {...common}
                value={typeof v === 'string' ? v : ''}
                onChange={(e) => setDraft({ ...draft, [k]: e.currentTarget.value })}
              />
            );
          return (
            <TextInput
              key={k}
              {...common}
              value={JSON.stringify(v)}
              readOnly
              description="Edit through the API"
            />
          );
        })}
        {secretKeys.map((k) => (
          <PasswordInput
            key={k}
            label={label(k)}
            autoComplete="off"
            disabled={!canWrite}
            description={
              original[`${k}_set`] ? 'Stored (write-only). Type a new value to replace it.' : 'Not set.'
            }
            value={secrets[k] ?? ''}
            onChange={(e) => setSecrets({ ...secrets, [k]: e.currentTarget.value })}
            error={fieldError(err, k)}
          />
        ))}
        {canWrite && (
          <Group justify="flex-end">
            <Button type="submit" loading={save.isPending}>
              Save
            </Button>
          </Group>
        )}
      </Stack>
    </form>
  );
}

export function SettingsPage() {
  const { section = 'api_tokens' } = useParams();
  const { can } = useSession();
  const canWrite = can('system:write');
  const known = SETTINGS_SECTIONS.find((s) => s.key === section);
  const title = section === 'api_tokens' ? 'API tokens' : (known?.title ?? section);
  return (
    <>
      <PageHeader
        title={`Settings · ${title}`}
        description={
          section === 'api_tokens'
            ? 'How API tokens may be created and used on this manager.'
            : 'Secrets are write-only: the manager says whether one is stored, never its value.'
        }
      />
      <Paper withBorder p="md" radius="md">
        {section === 'api_tokens' ? (
          <TokenSettingsForm canWrite={canWrite} />
        ) : known ? (
          <SectionForm key={section} section={known.key} canWrite={canWrite} />
        ) : (
          <NotAvailable what={`a "${section}" settings section`} />
        )}
      </Paper>
    </>
  );
}
