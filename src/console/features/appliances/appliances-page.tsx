// The fleet at a glance: type, status, online, latency, release, group, configuration status.
import {
  ActionIcon,
  Alert,
  Anchor,
  Badge,
  Button,
  Code,
  Group,
  Modal,
  PasswordInput,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Tooltip,
  VisuallyHidden,
} from '@mantine/core';
import { IconAlertCircle, IconPlus, IconShieldCheck } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { APPLIANCE_TYPES } from '../../../contract/fleet-fields';
import { errorMessage, fieldError, formErrorMessage } from '../../api/errors';
import { useAddAppliance, useAppliances, useAuthorizeAppliance } from '../../api/fleet';
import type { Appliance } from '../../api/types';
import { DateText, EmptyTableRow, ErrorState, PageHeader, StatusBadge } from '../../components/common';
import { useSession } from '../auth/session';

function AddApplianceModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const add = useAddAppliance();
  const [v, setV] = useState({ name: '', type: 'tiscale-worker', url: '' });
  const err = add.error;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate(
      { name: v.name.trim(), type: v.type, url: v.url.trim() },
      {
        onSuccess: () => {
          setV({ name: '', type: 'tiscale-worker', url: '' });
          add.reset();
          onClose();
        },
      },
    );
  };
  return (
    <Modal opened={opened} onClose={onClose} title="Add appliance" centered>
      <form onSubmit={submit} noValidate>
        <Stack gap="sm">
          {err && (
            <Alert color="red" icon={<IconAlertCircle />} role="alert">
              {formErrorMessage(err)}
            </Alert>
          )}
          <TextInput
            label="Name"
            required
            data-autofocus
            description="Letters, digits, dot, dash, underscore"
            value={v.name}
            onChange={(e) => setV({ ...v, name: e.currentTarget.value })}
            error={fieldError(err, 'name')}
          />
          <Select
            label="Type"
            data={[...APPLIANCE_TYPES]}
            value={v.type}
            onChange={(t) => setV({ ...v, type: t ?? v.type })}
            allowDeselect={false}
            error={fieldError(err, 'type')}
          />
          <TextInput
            label="Agent URL"
            required
            placeholder="https://appliance.example:8443"
            value={v.url}
            onChange={(e) => setV({ ...v, url: e.currentTarget.value })}
            error={fieldError(err, 'url')}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={add.isPending}>
              Add appliance
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** Hubs and workers pair with the manager; analyzers (a1000) are authorized with the token their agent printed. */
export const pairs = (type: string) => type !== 'a1000';

export function AuthorizeModal({ appliance, onClose }: { appliance: Appliance | null; onClose: () => void }) {
  const authorize = useAuthorizeAppliance();
  const [token, setToken] = useState('');
  const close = () => {
    setToken('');
    authorize.reset();
    onClose();
  };
  const pairing = appliance ? pairs(appliance.type) : false;
  return (
    <Modal opened={appliance !== null} onClose={close} title={`Authorize ${appliance?.name ?? ''}`} centered>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (appliance)
            authorize.mutate({ id: appliance.id, ...(pairing ? {} : { token }) }, { onSuccess: close });
        }}
        noValidate
      >
        <Stack gap="sm">
          <Text size="sm">
            {pairing ? (
              <>
                The manager pairs with the agent at <Code>{appliance?.url}</Code>: it checks the agent's
                identity and pins its certificate. Start the agent with <Code>--manager</Code> set to this
                manager to refuse anyone else.
              </>
            ) : (
              <>
                Paste the API token the appliance's agent printed when it first started (
                <Code>steward agent</Code>).
              </>
            )}
          </Text>
          {authorize.error && !fieldError(authorize.error, 'token') && (
            <Alert color="red" icon={<IconAlertCircle />} role="alert">
              {errorMessage(authorize.error)}
            </Alert>
          )}
          {!pairing && (
            <PasswordInput
              label="Agent token"
              required
              data-autofocus
              value={token}
              onChange={(e) => setToken(e.currentTarget.value)}
              error={fieldError(authorize.error, 'token')}
            />
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={authorize.isPending} data-autofocus={pairing || undefined}>
              {pairing ? 'Pair and authorize' : 'Authorize'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

export function OnlineBadge({ a }: { a: Appliance }) {
  if (!a.authorized)
    return (
      <Badge color="yellow" variant="light" style={{ minWidth: 'max-content' }}>
        not authorized
      </Badge>
    );
  return a.online ? (
    <Badge color="green" variant="dot" style={{ minWidth: 'max-content' }}>
      online
    </Badge>
  ) : (
    <Badge color="red" variant="dot" style={{ minWidth: 'max-content' }}>
      offline
    </Badge>
  );
}

export function AppliancesPage() {
  const { can } = useSession();
  const list = useAppliances();
  const [adding, setAdding] = useState(false);
  const [authorizing, setAuthorizing] = useState<Appliance | null>(null);
  const canWrite = can('appliances:write');
  const rows = list.data?.results ?? [];
  return (
    <>
      <PageHeader
        title="Appliances"
        description="Every appliance this manager runs. Add one, then authorize it with the token its agent printed."
        actions={
          canWrite &&
          !list.error && (
            <Button leftSection={<IconPlus size={16} />} onClick={() => setAdding(true)}>
              Add appliance
            </Button>
          )
        }
      />
      {list.error ? (
        <ErrorState error={list.error} what="appliances" />
      ) : (
        <Table.ScrollContainer minWidth={1000}>
          <Table verticalSpacing="xs" highlightOnHover aria-label="Appliances">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Online</Table.Th>
                <Table.Th>Latency</Table.Th>
                <Table.Th>Release</Table.Th>
                <Table.Th>Group</Table.Th>
                <Table.Th>Configuration</Table.Th>
                <Table.Th>Last seen</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((a) => (
                <Table.Tr key={a.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/appliances/${a.id}`} fw={600} size="sm">
                      {a.name}
                    </Anchor>
                    <Text size="xs" c="dimmed">
                      {a.hostname ?? a.url}
                    </Text>
                  </Table.Td>
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>{a.type}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={a.status} />
                  </Table.Td>
                  <Table.Td>
                    <OnlineBadge a={a} />
                  </Table.Td>
                  <Table.Td>{a.latency === null ? '—' : `${Math.round(a.latency)} ms`}</Table.Td>
                  <Table.Td>{a.release ?? '—'}</Table.Td>
                  <Table.Td>
                    {a.group_name ?? (
                      <Text span c="dimmed" size="sm">
                        none
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={a.configuration_status} />
                  </Table.Td>
                  <Table.Td>
                    <DateText iso={a.last_seen_online} empty="Never" />
                  </Table.Td>
                  <Table.Td>
                    {canWrite && !a.authorized && (
                      <Tooltip label="Authorize">
                        <ActionIcon
                          variant="light"
                          aria-label={`Authorize ${a.name}`}
                          onClick={() => setAuthorizing(a)}
                        >
                          <IconShieldCheck size={18} />
                        </ActionIcon>
                      </Tooltip>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
              {rows.length === 0 && (
                <EmptyTableRow colSpan={10}>
                  {list.isPending ? 'Loading…' : 'No appliances yet.'}
                </EmptyTableRow>
              )}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <AddApplianceModal opened={adding} onClose={() => setAdding(false)} />
      <AuthorizeModal appliance={authorizing} onClose={() => setAuthorizing(null)} />
    </>
  );
}
