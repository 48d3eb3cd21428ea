// The appliance's running configuration compared with its group's: the revision it runs (as its
// agent reports it), the group's latest, and field by field what applying the group would change
// here (the group diff, GET /api/v1/config-group/diff/{name}/, for this member).
import { Alert, Anchor, Badge, Code, Group, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { IconAlertTriangle } from '@tabler/icons-react';
import { Link } from 'react-router';
import { fieldLabel, fieldSection } from '../../../contract/fleet-fields';
import { useConfigDiff } from '../../api/fleet';
import type { Appliance } from '../../api/types';
import { ErrorState, StatusBadge } from '../../components/common';

interface RunningConfig {
  revision?: number | null;
  hash?: string;
  applied_at?: string | null;
}

/** A table that scrolls sideways on a phone: its viewport takes focus, so the keyboard scrolls it too. */
export const KEYBOARD_SCROLL = { viewportProps: { tabIndex: 0 } };

export const showValue = (v: unknown) =>
  v === undefined || v === null ? '—' : <Code>{typeof v === 'string' ? v : JSON.stringify(v)}</Code>;

export function ConfigCompare({
  appliance: a,
  canReadConfig,
}: {
  appliance: Appliance;
  canReadConfig: boolean;
}) {
  // The revision the appliance took, as the manager recorded its answer to the apply; the agent's
  // own report in system_data is written at the poll after its status tag moves (the next one
  // after an apply), so it can lag an apply by a poll interval. Its hash is shown when it agrees.
  const reported = (a.system_data as { running_config?: RunningConfig }).running_config;
  const revision = a.applied_revision ?? reported?.revision ?? null;
  const running = { revision, hash: reported?.revision === revision ? reported?.hash : undefined };
  const group = a.group_name;
  const diff = useConfigDiff(
    canReadConfig && group ? group : null,
    `${a.applied_revision}:${a.configuration_status}`,
  );
  const mine = diff.data?.appliances.find((m) => m.name === a.name);
  return (
    <Stack gap="xs">
      <Title order={2} size="h4">
        Configuration
      </Title>
      <Group gap="xl" wrap="wrap">
        <div>
          <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
            Group
          </Text>
          {group ? (
            <Anchor component={Link} to="/config-groups" size="sm">
              {group}
            </Anchor>
          ) : (
            <Text size="sm">None: the appliance keeps its own configuration</Text>
          )}
        </div>
        <div>
          <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
            Running on the appliance
          </Text>
          <Text size="sm" data-testid="running-revision">
            {running.revision != null ? `revision ${running.revision}` : 'no revision from the manager'}
            {running.hash ? (
              <>
                {' '}
                <Code title={running.hash}>{running.hash.slice(0, 12)}</Code>
              </>
            ) : null}
          </Text>
        </div>
        {diff.data && (
          <div>
            <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
              Group's latest
            </Text>
            <Text size="sm">revision {diff.data.revision}</Text>
          </div>
        )}
        <div>
          <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
            Status
          </Text>
          <StatusBadge status={a.configuration_status} />
        </div>
      </Group>
      {a.configuration_status === 'mismatch' && (
        <Alert color="orange" icon={<IconAlertTriangle />} title="Changed on the appliance">
          The appliance runs a configuration other than revision {a.applied_revision ?? '—'}, the one it last
          took from the manager (changed locally?). Applying the group again puts it back.
        </Alert>
      )}
      {!group ? null : !canReadConfig ? (
        <Text size="sm" c="dimmed">
          Your account may not read configuration groups, so the comparison is not shown.
        </Text>
      ) : diff.error ? (
        <ErrorState error={diff.error} what="the comparison with the group" />
      ) : !diff.data ? (
        <Text size="sm" c="dimmed">
          Loading…
        </Text>
      ) : !mine || mine.changes.length === 0 ? (
        <Text size="sm" data-testid="config-compare-same">
          Same as the group's revision {diff.data.revision}: applying it would change nothing here.
        </Text>
      ) : (
        <>
          {/* On a phone each setting is a card: three columns do not fit 390 px. */}
          <Stack gap="xs" hiddenFrom="sm" data-testid="config-compare-cards">
            {mine.changes.map((c) => (
              <Paper key={c.field} withBorder p="xs" radius="sm">
                <Text size="sm" fw={600}>
                  {fieldLabel(c.field)}
                </Text>
                <Text size="xs" c="dimmed">
                  {fieldSection(c.field)} · <Code fz="xs">{c.field}</Code> · {c.action}
                </Text>
                <Text size="sm" mt={4}>
                  On the appliance: {showValue(c.from)}
                </Text>
                <Text size="sm">In the group: {showValue(c.to)}</Text>
              </Paper>
            ))}
          </Stack>
          <Table.ScrollContainer minWidth={560} scrollAreaProps={KEYBOARD_SCROLL} visibleFrom="sm">
            <Table
              fz="sm"
              aria-label="Running configuration compared with the group"
              data-testid="config-compare"
            >
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Setting</Table.Th>
                  <Table.Th>On the appliance (revision {mine.applied_revision ?? 'none'})</Table.Th>
                  <Table.Th>In the group (revision {diff.data.revision})</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {mine.changes.map((c) => (
                  <Table.Tr key={c.field}>
                    <Table.Td>
                      <Text size="sm">{fieldLabel(c.field)}</Text>
                      <Text size="xs" c="dimmed">
                        {fieldSection(c.field)} · <Code fz="xs">{c.field}</Code>{' '}
                        <Badge size="xs" variant="light">
                          {c.action}
                        </Badge>
                      </Text>
                    </Table.Td>
                    <Table.Td>{showValue(c.from)}</Table.Td>
                    <Table.Td>{showValue(c.to)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </>
      )}
    </Stack>
  );
}
