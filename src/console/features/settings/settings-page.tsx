// Settings: one page per section of /api/v1/config/...; secrets are write-only (`*_set`).
import {
  Alert,
  Badge,
  Button,
  Group,
  NumberInput,
  Paper,
  PasswordInput,
  Select,
  Stack,
  Switch,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertCircle } from '@tabler/icons-react';
import { type FormEvent, useEffect, useState } from 'react';
import { useParams } from 'react-router';
import { fieldError, formErrorMessage, rangeError } from '../../api/errors';
import { useSaveTokenSettings, useTokenSettings } from '../../api/identity';
import {
  type FormSection,
  SETTINGS_SECTIONS,
  type SettingsPatch,
  useSaveSettings,
  useSettings,
} from '../../api/system';
import type { TokenSettings } from '../../api/types';
import { ErrorState, NotAvailable, PageHeader } from '../../components/common';
import { useSession } from '../auth/session';
import { formOf } from './section-fields';

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
          clampBehavior="none"
          label="Default lifetime (days)"
          description="Empty: tokens do not expire unless asked"
          min={1}
          max={3650}
          value={v.default_lifetime_days ?? ''}
          disabled={!canWrite}
          onChange={(x) => setV({ ...v, default_lifetime_days: num(x) })}
          error={fieldError(err, 'default_lifetime_days') ?? rangeError(v.default_lifetime_days, 1, 3650)}
        />
        <NumberInput
          clampBehavior="none"
          label="Maximum lifetime (days)"
          description="Empty: no cap"
          min={1}
          max={3650}
          value={v.max_lifetime_days ?? ''}
          disabled={!canWrite}
          onChange={(x) => setV({ ...v, max_lifetime_days: num(x) })}
          error={fieldError(err, 'max_lifetime_days') ?? rangeError(v.max_lifetime_days, 1, 3650)}
        />
        <NumberInput
          clampBehavior="none"
          label="Default rate limit (requests per minute)"
          description="Empty: none"
          min={1}
          value={v.default_rate_limit_per_minute ?? ''}
          disabled={!canWrite}
          onChange={(x) => setV({ ...v, default_rate_limit_per_minute: num(x) })}
          error={
            fieldError(err, 'default_rate_limit_per_minute') ?? rangeError(v.default_rate_limit_per_minute, 1)
          }
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

function SecretInput({
  label,
  isSet,
  value,
  onChange,
  error,
  disabled,
}: {
  label: string;
  isSet: boolean;
  /** `undefined`: keep; `''` typed nothing; `null`: clear the stored value. */
  value: string | null | undefined;
  onChange: (v: string | null | undefined) => void;
  error?: string;
  disabled: boolean;
}) {
  const clearing = value === null;
  return (
    <Stack gap={4}>
      <PasswordInput
        label={label}
        autoComplete="new-password"
        disabled={disabled || clearing}
        description={
          clearing
            ? 'Will be removed when you save.'
            : isSet
              ? 'Set (write-only, never shown). Type a new value to replace it.'
              : 'Not set. Type a value to store it.'
        }
        rightSectionWidth={isSet ? 96 : undefined}
        value={value ?? ''}
        onChange={(e) => onChange(e.currentTarget.value === '' ? undefined : e.currentTarget.value)}
        error={error}
        inputWrapperOrder={['label', 'description', 'input', 'error']}
      />
      <Group gap="xs">
        <Badge
          size="sm"
          variant="light"
          color={isSet ? 'green' : 'gray'}
          data-testid={`secret-state-${label}`}
          style={{ textTransform: 'none' }}
        >
          {isSet ? 'set' : 'not set'}
        </Badge>
        {isSet && !disabled && (
          <Button
            size="compact-xs"
            variant="subtle"
            color={clearing ? 'gray' : 'red'}
            onClick={() => onChange(clearing ? undefined : null)}
          >
            {clearing ? `Keep the stored ${label.toLowerCase()}` : `Remove the stored ${label.toLowerCase()}`}
          </Button>
        )}
      </Group>
    </Stack>
  );
}

type Values = Record<string, unknown>;

export function SectionForm<S extends FormSection>({ section, canWrite }: { section: S; canWrite: boolean }) {
  const values = useSettings(section);
  const save = useSaveSettings(section);
  const [draft, setDraft] = useState<Values>({});
  const [secrets, setSecrets] = useState<Record<string, string | null | undefined>>({});
  useEffect(() => {
    if (values.data) {
      setDraft({ ...values.data });
      setSecrets({});
    }
  }, [values.data]);
  if (values.error) return <ErrorState error={values.error} what={`the ${section} settings`} />;
  if (!values.data) return <Text c="dimmed">Loading…</Text>;
  const err = save.error;
  const original = values.data as Values;
  const fields = formOf(section);
  const set = (k: string, v: unknown) => setDraft((d) => ({ ...d, [k]: v }));

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const changed: Values = {};
    for (const f of fields) {
      if (f.kind === 'readonly') continue;
      if (f.kind === 'secret') {
        const name = f.key.slice(0, -'_set'.length);
        const v = secrets[name];
        if (v === null) changed[name] = '';
        else if (v !== undefined) changed[name] = v;
        continue;
      }
      if (JSON.stringify(draft[f.key]) !== JSON.stringify(original[f.key])) changed[f.key] = draft[f.key];
    }
    save.mutate(changed as SettingsPatch<S>, {
      onSuccess: () => notifications.show({ color: 'green', message: 'Settings saved' }),
    });
  };

  return (
    <form onSubmit={submit} noValidate aria-label={`${section} settings`}>
      <Stack gap="sm" maw={560}>
        {err && (
          <Alert color="red" icon={<IconAlertCircle />} role="alert">
            {formErrorMessage(err)}
          </Alert>
        )}
        {fields.map((f) => {
          const common = {
            label: f.label,
            description: f.description,
            error: fieldError(err, f.kind === 'secret' ? f.key.slice(0, -4) : f.key),
            disabled: !canWrite,
          };
          const v = draft[f.key];
          switch (f.kind) {
            case 'switch':
              return (
                <Switch
                  key={f.key}
                  {...common}
                  checked={v === true}
                  onChange={(e) => set(f.key, e.currentTarget.checked)}
                />
              );
            case 'number':
              return (
                <NumberInput
                  clampBehavior="none"
                  key={f.key}
                  {...common}
                  description={[common.description, `${f.min} to ${f.max}`].filter(Boolean).join(' · ')}
                  error={common.error ?? rangeError(v, f.min, f.max)}
                  min={f.min}
                  max={f.max}
                  step={f.step}
                  allowDecimal={f.step !== undefined}
                  value={typeof v === 'number' ? v : ''}
                  onChange={(x) => set(f.key, x === '' ? undefined : Number(x))}
                />
              );
            case 'select':
              return (
                <Select
                  key={f.key}
                  {...common}
                  data={f.options as string[]}
                  value={typeof v === 'string' ? v : null}
                  allowDeselect={false}
                  onChange={(x) => set(f.key, x ?? undefined)}
                />
              );
            case 'textarea':
              return (
                <Textarea
                  key={f.key}
                  {...common}
                  autosize
                  minRows={2}
                  maxRows={10}
                  value={typeof v === 'string' ? v : ''}
                  onChange={(e) => set(f.key, e.currentTarget.value)}
                />
              );
            case 'secret': {
              const name = f.key.slice(0, -4);
              return (
                <SecretInput
                  key={f.key}
                  label={f.label}
                  isSet={original[f.key] === true}
                  value={secrets[name]}
                  onChange={(x) => setSecrets((s) => ({ ...s, [name]: x }))}
                  error={common.error}
                  disabled={!canWrite}
                />
              );
            }
            case 'readonly':
              return (
                <TextInput
                  key={f.key}
                  label={f.label}
                  description={f.description ?? 'Set by the manager'}
                  value={typeof v === 'string' && v !== '' ? v : '—'}
                  readOnly
                  variant="filled"
                />
              );
            default:
              return (
                <TextInput
                  key={f.key}
                  {...common}
                  placeholder={f.placeholder}
                  value={typeof v === 'string' ? v : ''}
                  onChange={(e) => set(f.key, e.currentTarget.value)}
                />
              );
          }
        })}
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
