// A hub's connectors: pick one, enable it, and edit its configuration. The hub stores the
// configuration and the manager hides secret-looking values (`<field>_set`). A save replaces the
// configuration, except that a stored secret left empty is kept (sent as `<field>_set: true`) and
// a removed one is deleted (`<field>_set: false`).
import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Group,
  NumberInput,
  PasswordInput,
  Select,
  Stack,
  Switch,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertCircle, IconPlugConnected, IconPlus, IconTrash } from '@tabler/icons-react';
import { type FormEvent, useEffect, useState } from 'react';
import { SECRET_NAME } from '../../../contract/connector-secrets';
import { CONNECTOR_NAMES } from '../../../contract/fleet-fields';
import { useConnector, useEnableConnector, useSaveConnector } from '../../api/admin';
import { errorMessage, fieldError } from '../../api/errors';
import type { ConnectorName, ConnectorState } from '../../api/types';
import { DateText, ErrorState, StatusBadge } from '../../components/common';

type Row =
  | { name: string; kind: 'text'; value: string }
  | { name: string; kind: 'number'; value: number | '' }
  | { name: string; kind: 'boolean'; value: boolean }
  | { name: string; kind: 'json'; value: string }
  /** `stored`: the hub has a value; `value`: a new one ('' keeps nothing). */
  | { name: string; kind: 'secret'; stored: boolean; value: string };

function rowsOf(config: ConnectorState['config']): Row[] {
  const rows: Row[] = [];
  for (const [k, v] of Object.entries(config)) {
    if (k.endsWith('_set') && typeof v === 'boolean' && SECRET_NAME.test(k.slice(0, -4))) {
      rows.push({ name: k.slice(0, -4), kind: 'secret', stored: v, value: '' });
    } else if (typeof v === 'string') rows.push({ name: k, kind: 'text', value: v });
    else if (typeof v === 'number') rows.push({ name: k, kind: 'number', value: v });
    else if (typeof v === 'boolean') rows.push({ name: k, kind: 'boolean', value: v });
    else rows.push({ name: k, kind: 'json', value: JSON.stringify(v) });
  }
  return rows;
}

/** The body to send, or the per-field problems that stop the save. */
function bodyOf(
  rows: Row[],
  stored: ConnectorState['config'],
): { body: Record<string, unknown>; problems: Record<string, string> } {
  const body: Record<string, unknown> = {};
  const problems: Record<string, string> = {};
  // Stored secrets whose row was removed: the manager keeps a secret that is left out.
  for (const [k, v] of Object.entries(stored)) {
    const name = k.slice(0, -4);
    if (k.endsWith('_set') && v === true && !rows.some((r) => r.kind === 'secret' && r.name === name)) {
      body[k] = false;
    }
  }
  for (const r of rows) {
    if (r.kind === 'secret') {
      if (r.value !== '') body[r.name] = r.value;
      else if (r.stored) body[`${r.name}_set`] = true;
      else problems[r.name] = 'Type a value, or remove the field.';
    } else if (r.kind === 'json') {
      try {
        body[r.name] = JSON.parse(r.value);
      } catch {
        problems[r.name] = 'Not valid JSON.';
      }
    } else if (r.kind === 'number') {
      if (r.value === '') problems[r.name] = 'Type a number, or remove the field.';
      else body[r.name] = r.value;
    } else body[r.name] = r.value;
  }
  return { body, problems };
}

function ValueInput({
  row,
  onChange,
  error,
  disabled,
}: {
  row: Row;
  onChange: (r: Row) => void;
  error?: string;
  disabled: boolean;
}) {
  const common = { label: row.name, error, disabled, style: { flex: 1 } };
  switch (row.kind) {
    case 'boolean':
      return (
        <Switch
          label={row.name}
          checked={row.value}
          disabled={disabled}
          error={error}
          onChange={(e) => onChange({ ...row, value: e.currentTarget.checked })}
          style={{ flex: 1 }}
          mt="xs"
        />
      );
    case 'number':
      return (
        <NumberInput
          {...common}
          value={row.value}
          onChange={(x) => onChange({ ...row, value: x === '' ? '' : Number(x) })}
        />
      );
    case 'secret':
      return (
        <PasswordInput
          {...common}
          autoComplete="new-password"
          description={
            <>
              <Badge
                size="xs"
                variant="light"
                color={row.stored ? 'green' : 'gray'}
                style={{ textTransform: 'none' }}
                mr={6}
              >
                {row.stored ? 'set' : 'not set'}
              </Badge>
              Write-only: the hub never shows it. Empty keeps the stored value.
            </>
          }
          value={row.value}
          onChange={(e) => onChange({ ...row, value: e.currentTarget.value })}
        />
      );
    case 'json':
      return (
        <TextInput
          {...common}
          description="JSON value"
          value={row.value}
          onChange={(e) => onChange({ ...row, value: e.currentTarget.value })}
        />
      );
    default:
      return (
        <TextInput
          {...common}
          value={row.value}
          onChange={(e) => onChange({ ...row, value: e.currentTarget.value })}
        />
      );
  }
}

function ConnectorEditor({
  applianceId,
  name,
  state,
  canWrite,
}: {
  applianceId: number;
  name: ConnectorName;
  state: ConnectorState;
  canWrite: boolean;
}) {
  const save = useSaveConnector(applianceId);
  const [rows, setRows] = useState<Row[]>(() => rowsOf(state.config));
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [newName, setNewName] = useState('');
  const [newKind, setNewKind] = useState<'text' | 'number' | 'boolean' | 'secret'>('text');
  const [newError, setNewError] = useState<string | undefined>();
  useEffect(() => {
    setRows(rowsOf(state.config));
    setProblems({});
  }, [state.config]);

  const update = (i: number, r: Row) => setRows((rs) => rs.map((x, j) => (j === i ? r : x)));
  const addField = () => {
    const n = newName.trim();
    if (!/^[A-Za-z0-9_.-]{1,100}$/.test(n)) {
      setNewError('Letters, digits, dot, dash and underscore (at most 100)');
      return;
    }
    if (rows.some((r) => r.name === n)) {
      setNewError('This connector already has that field');
      return;
    }
    const kind = newKind === 'text' && SECRET_NAME.test(n) ? 'secret' : newKind;
    const row: Row =
      kind === 'secret'
        ? { name: n, kind, stored: false, value: '' }
        : kind === 'number'
          ? { name: n, kind, value: '' }
          : kind === 'boolean'
            ? { name: n, kind, value: false }
            : { name: n, kind, value: '' };
    setRows((rs) => [...rs, row]);
    setNewName('');
    setNewError(undefined);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const { body, problems: found } = bodyOf(rows, state.config);
    setProblems(found);
    if (Object.keys(found).length > 0) return;
    save.mutate(
      { name, config: body },
      { onSuccess: () => notifications.show({ color: 'green', message: `Saved the ${name} connector` }) },
    );
  };
  const err = save.error;

  return (
    <form onSubmit={submit} noValidate aria-label={`${name} connector configuration`}>
      <Stack gap="xs">
        {err && (
          <Alert
            color="red"
            icon={<IconAlertCircle />}
            role="alert"
            title="The hub did not take the configuration"
          >
            {errorMessage(err)}
          </Alert>
        )}
        {rows.length === 0 && (
          <Text size="sm" c="dimmed">
            No settings stored for this connector.
          </Text>
        )}
        {rows.map((r, i) => (
          <Group key={r.name} align="flex-start" gap="xs" wrap="nowrap" data-field={r.name}>
            <ValueInput
              row={r}
              onChange={(x) => update(i, x)}
              error={problems[r.name] ?? fieldError(err, r.name)}
              disabled={!canWrite}
            />
            {canWrite && (
              <ActionIcon
                variant="subtle"
                color="red"
                mt={26}
                aria-label={`Remove field ${r.name}`}
                onClick={() => setRows((rs) => rs.filter((_, j) => j !== i))}
              >
                <IconTrash size={16} />
              </ActionIcon>
            )}
          </Group>
        ))}
        {canWrite && (
          <>
            <Group align="flex-start" gap="xs" wrap="wrap">
              <TextInput
                label="New field name"
                value={newName}
                onChange={(e) => setNewName(e.currentTarget.value)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter') {
                    e.preventDefault();
                    addField();
                  }
                }}
                error={newError}
                style={{ flex: 1, minWidth: 180 }}
              />
              <Select
                label="Type"
                data={[
                  { value: 'text', label: 'Text' },
                  { value: 'number', label: 'Number' },
                  { value: 'boolean', label: 'On/off' },
                  { value: 'secret', label: 'Secret (write-only)' },
                ]}
                value={newKind}
                allowDeselect={false}
                onChange={(v) => setNewKind((v as typeof newKind) ?? 'text')}
                w={170}
              />
              <Button variant="light" mt={25} leftSection={<IconPlus size={16} />} onClick={addField}>
                Add field
              </Button>
            </Group>
            <Text size="xs" c="dimmed">
              Names with pass, secret, token, key or credential in them are secrets: the manager never shows
              their value again. Leave a stored secret empty to keep it; remove the field to delete it.
            </Text>
            <Group justify="flex-end">
              <Button type="submit" loading={save.isPending}>
                Save connector
              </Button>
            </Group>
          </>
        )}
      </Stack>
    </form>
  );
}

export function ConnectorsPanel({ applianceId, canWrite }: { applianceId: number; canWrite: boolean }) {
  const [name, setName] = useState<ConnectorName>(CONNECTOR_NAMES[0]);
  const state = useConnector(applianceId, name);
  const enable = useEnableConnector(applianceId);
  return (
    <Stack gap="sm">
      <Group justify="space-between" align="flex-end" wrap="wrap">
        <Title order={2} size="h4">
          Connectors
        </Title>
      </Group>
      <Group align="flex-end" gap="sm" wrap="wrap">
        <Select
          label="Connector"
          data={[...CONNECTOR_NAMES]}
          value={name}
          allowDeselect={false}
          onChange={(v) => v && setName(v as ConnectorName)}
          w={240}
        />
        {state.data && (
          <Group gap="xs" pb={6}>
            <StatusBadge status={state.data.enabled ? 'enabled' : 'disabled'} />
            <Text size="xs" c="dimmed">
              updated <DateText iso={state.data.updated} empty="never" />
            </Text>
          </Group>
        )}
        {canWrite && state.data && !state.data.enabled && (
          <Button
            variant="light"
            leftSection={<IconPlugConnected size={16} />}
            loading={enable.isPending}
            onClick={() =>
              enable.mutate(name, {
                onSuccess: () => notifications.show({ color: 'green', message: `Enabled ${name}` }),
              })
            }
          >
            Enable {name}
          </Button>
        )}
      </Group>
      {enable.error && (
        <Alert color="red" role="alert" icon={<IconAlertCircle />}>
          {errorMessage(enable.error)}
        </Alert>
      )}
      {state.error ? (
        <ErrorState error={state.error} what={`the ${name} connector`} />
      ) : state.data ? (
        <ConnectorEditor
          key={name}
          applianceId={applianceId}
          name={name}
          state={state.data}
          canWrite={canWrite}
        />
      ) : (
        <Text size="sm" c="dimmed">
          Loading…
        </Text>
      )}
    </Stack>
  );
}
