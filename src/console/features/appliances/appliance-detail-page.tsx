// One appliance: its details, health over the last hours, the maintenance switch, its running
// configuration compared with its group's, and recent events.
import {
  Anchor,
  Button,
  Code,
  Group,
  Paper,
  SimpleGrid,
  Stack,
  Switch,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconArrowLeft, IconShieldCheck, IconTrash } from '@tabler/icons-react';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { useSetMaintenance } from '../../api/appliance-health';
import { errorMessage } from '../../api/errors';
import { useActivities, useAppliance, useDeleteAppliance } from '../../api/fleet';
import type { Appliance } from '../../api/types';
import { DateText, EmptyTableRow, ErrorState, StatusBadge } from '../../components/common';
import { useSession } from '../auth/session';
import { AuthorizeModal, OnlineBadge } from './appliances-page';
import { CertificateUpload } from './certificate-upload';
import { ConfigCompare, KEYBOARD_SCROLL } from './config-compare';
import { ConnectorsPanel } from './connectors-panel';
import { HealthCharts } from './health-charts';

/** Maintenance: still polled, but no configuration is sent and going offline raises no alarm. */
function MaintenanceSwitch({ a, canWrite }: { a: Appliance; canWrite: boolean }) {
  const set = useSetMaintenance();
  return (
    <Switch
      label="Maintenance"
      description="Still polled, but applies skip it and going offline raises no alarm"
      checked={a.maintenance}
      disabled={!canWrite || set.isPending}
      onChange={(e) => {
        const maintenance = e.currentTarget.checked;
        set.mutate(
          { id: a.id, maintenance },
          {
            onSuccess: () =>
              notifications.show({
                color: 'green',
                message: maintenance ? `${a.name} is in maintenance.` : `${a.name} is out of maintenance.`,
              }),
            onError: (err) =>
              notifications.show({
                color: 'red',
                title: 'Maintenance not changed',
                message: errorMessage(err),
              }),
          },
        );
      }}
    />
  );
}

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {label}
      </Text>
      <Text size="sm" component="div">
        {children}
      </Text>
    </div>
  );
}

export function ApplianceDetailPage() {
  const id = Number(useParams().id);
  const { can } = useSession();
  const appliance = useAppliance(Number.isFinite(id) ? id : null);
  const events = useActivities({ appliance: id });
  const del = useDeleteAppliance();
  const navigate = useNavigate();
  const [authorizing, setAuthorizing] = useState(false);
  const a = appliance.data;
  return (
    <Stack>
      <Anchor component={Link} to="/appliances" size="sm">
        <Group gap={4}>
          <IconArrowLeft size={14} />
          Appliances
        </Group>
      </Anchor>
      {appliance.error && <ErrorState error={appliance.error} what="this appliance" />}
      {a && (
        <>
          <Group justify="space-between">
            <Title order={1} size="h2">
              {a.name}
            </Title>
            <Group gap="xs">
              {can('appliances:write') && !a.authorized && (
                <Button leftSection={<IconShieldCheck size={16} />} onClick={() => setAuthorizing(true)}>
                  Authorize
                </Button>
              )}
              {can('appliances:write') && (
                <Button
                  color="red"
                  variant="light"
                  leftSection={<IconTrash size={16} />}
                  loading={del.isPending}
                  onClick={() => {
                    if (window.confirm(`Remove ${a.name} from the manager?`))
                      del.mutate(a.id, { onSuccess: () => navigate('/appliances') });
                  }}
                >
                  Remove
                </Button>
              )}
            </Group>
          </Group>
          <Paper withBorder p="md" radius="md">
            <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }}>
              <Field label="Type">{a.type}</Field>
              <Field label="Status">
                <StatusBadge status={a.status} />
              </Field>
              <Field label="Online">
                <OnlineBadge a={a} />
              </Field>
              <Field label="Latency">{a.latency === null ? '—' : `${Math.round(a.latency)} ms`}</Field>
              <Field label="Release">{a.release ?? '—'}</Field>
              <Field label="URL">
                <Code>{a.url}</Code>
              </Field>
              <Field label="Hostname / IP">
                {a.hostname ?? '—'} {a.ip && `(${a.ip})`}
              </Field>
              <Field label="Group">{a.group_name ?? 'none'}</Field>
              <Field label="Configuration">
                <StatusBadge status={a.configuration_status} />
              </Field>
              <Field label="Applied revision">{a.applied_revision ?? '—'}</Field>
              <Field label="Last applied">
                <DateText iso={a.last_applied_config_timestamp} />
              </Field>
              <Field label="Last seen online">
                <DateText iso={a.last_seen_online} empty="Never" />
              </Field>
            </SimpleGrid>
            <Group mt="md">
              <MaintenanceSwitch a={a} canWrite={can('appliances:write')} />
            </Group>
          </Paper>
          {a.authorized && (
            <Paper withBorder p="md" radius="md">
              <HealthCharts appliance={a} />
            </Paper>
          )}
          <Paper withBorder p="md" radius="md">
            <ConfigCompare appliance={a} canReadConfig={can('configuration:read')} />
          </Paper>
          {a.type === 'tiscale-hub' && a.authorized && (
            <Paper withBorder p="md" radius="md">
              <ConnectorsPanel applianceId={a.id} canWrite={can('appliances:write')} />
            </Paper>
          )}
          {(a.type === 'tiscale-hub' || a.type === 'tiscale-worker') &&
            a.authorized &&
            can('appliances:write') && (
              <Paper withBorder p="md" radius="md">
                <CertificateUpload applianceId={a.id} name={a.name} />
              </Paper>
            )}
        </>
      )}
      <Title order={2} size="h4">
        Events
      </Title>
      {events.error ? (
        <ErrorState error={events.error} what="events" />
      ) : (
        <Table.ScrollContainer minWidth={700} scrollAreaProps={KEYBOARD_SCROLL}>
          <Table aria-label="Appliance events" verticalSpacing={6}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>When</Table.Th>
                <Table.Th>Kind</Table.Th>
                <Table.Th>Severity</Table.Th>
                <Table.Th>Message</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {(events.data?.results ?? []).map((e) => (
                <Table.Tr key={e.id}>
                  <Table.Td>
                    <DateText iso={e.at} />
                  </Table.Td>
                  <Table.Td>{e.kind}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={e.severity} />
                  </Table.Td>
                  <Table.Td>{e.message}</Table.Td>
                </Table.Tr>
              ))}
              {events.data?.results.length === 0 && <EmptyTableRow colSpan={4}>No events.</EmptyTableRow>}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <AuthorizeModal appliance={authorizing && a ? a : null} onClose={() => setAuthorizing(false)} />
    </Stack>
  );
}
