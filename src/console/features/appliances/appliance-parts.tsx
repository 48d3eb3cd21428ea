// Pieces of the appliance list: the one state badge (status and online state in one), the
// sortable column header, and the card a row becomes on a phone.
import { Anchor, Badge, Checkbox, Group, Paper, Stack, Table, Text, UnstyledButton } from '@mantine/core';
import { IconArrowDown, IconArrowsSort, IconArrowUp } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import type { Appliance } from '../../api/types';
import { DateText, Labelled, StatusBadge } from '../../components/common';
import { type ApplianceStateName, STATE_LABELS } from './list-state';

const STATE_COLORS: Record<ApplianceStateName, string> = {
  online: 'green',
  degraded: 'orange',
  offline: 'red',
  maintenance: 'blue',
  unauthorized: 'yellow',
};

export const TYPE_LABELS: Record<string, string> = {
  'tiscale-worker': 'Worker',
  'tiscale-hub': 'Hub',
  a1000: 'Spectra Analyze',
};

/** Status and online state as one badge; the latency under it only while the appliance answers. */
export function StateCell({ a }: { a: Appliance }) {
  const state = a.state as ApplianceStateName;
  const color = STATE_COLORS[state] ?? 'gray';
  return (
    <Stack gap={2} align="flex-start">
      <Badge
        color={color}
        variant="light"
        leftSection={
          <span aria-hidden="true" style={{ color: `var(--mantine-color-${color}-filled)` }}>
            ●
          </span>
        }
        style={{
          textTransform: 'none',
          minWidth: 'max-content',
          color: 'var(--mantine-color-text)',
        }}
      >
        {STATE_LABELS[state] ?? a.state}
      </Badge>
      {(state === 'online' || state === 'degraded') && a.latency !== null && (
        <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
          {a.latency < 10 ? a.latency.toFixed(1) : Math.round(a.latency)} ms
        </Text>
      )}
    </Stack>
  );
}

/** The name links to the detail page; the URL the admin typed stays under it, whole. */
export function NameCell({ a }: { a: Appliance }) {
  return (
    <Stack gap={0}>
      <Anchor
        component={Link}
        to={`/appliances/${a.id}`}
        fw={600}
        size="sm"
        // Darker than links elsewhere: on a selected row's tint (primary-1) even shade 8 is just
        // under the 4.5:1 contrast WCAG AA asks for (4.46); shade 9 gives 5.3.
        style={{
          wordBreak: 'break-word',
          color: 'light-dark(var(--mantine-primary-color-9), var(--mantine-primary-color-3))',
        }}
      >
        {a.name}
      </Anchor>
      <Text size="xs" c="dimmed" style={{ wordBreak: 'break-all' }}>
        {a.url}
      </Text>
      {a.hostname && a.hostname !== a.name && (
        <Text size="xs" c="dimmed" style={{ wordBreak: 'break-all' }}>
          host {a.hostname}
        </Text>
      )}
    </Stack>
  );
}

export function GroupCell({ a }: { a: Appliance }) {
  return a.group_name ? (
    <Text size="sm">{a.group_name}</Text>
  ) : (
    <Text span c="dimmed" size="sm">
      none
    </Text>
  );
}

/** A column header that sorts the list; `aria-sort` tells assistive technology which one does. */
export function SortableTh({
  field,
  sort,
  onSort,
  children,
}: {
  field: string;
  sort: { field: string; desc: boolean } | null;
  onSort: (field: string) => void;
  children: ReactNode;
}) {
  const active = sort?.field === field;
  const Icon = !active ? IconArrowsSort : sort.desc ? IconArrowDown : IconArrowUp;
  return (
    <Table.Th aria-sort={active ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
      <UnstyledButton onClick={() => onSort(field)} fw={700} fz="sm">
        <Group gap={4} wrap="nowrap">
          {children}
          <Icon size={14} aria-hidden="true" style={{ opacity: active ? 1 : 0.45 }} />
        </Group>
      </UnstyledButton>
    </Table.Th>
  );
}

/** The phone form of a row. */
export function ApplianceCard({
  a,
  selectable,
  selected,
  onSelect,
  actions,
}: {
  a: Appliance;
  selectable: boolean;
  selected: boolean;
  onSelect: (on: boolean) => void;
  actions?: ReactNode;
}) {
  return (
    <Paper withBorder p="sm" radius="md" data-appliance-card={a.name}>
      <Group justify="space-between" wrap="nowrap" align="flex-start">
        <Group gap="sm" wrap="nowrap" align="flex-start" style={{ minWidth: 0 }}>
          {selectable && (
            <Checkbox
              mt={2}
              aria-label={`Select ${a.name}`}
              checked={selected}
              onChange={(e) => onSelect(e.currentTarget.checked)}
            />
          )}
          <div style={{ minWidth: 0 }}>
            <NameCell a={a} />
          </div>
        </Group>
        <StateCell a={a} />
      </Group>
      <Group gap="lg" mt="xs" align="flex-start">
        <Labelled label="Type">
          <Text size="sm">{TYPE_LABELS[a.type] ?? a.type}</Text>
        </Labelled>
        <Labelled label="Release">
          <Text size="sm">{a.release ?? '—'}</Text>
        </Labelled>
        <Labelled label="Group">
          <GroupCell a={a} />
        </Labelled>
        <Labelled label="Last seen">
          <DateText iso={a.last_seen_online} empty="Never" />
        </Labelled>
      </Group>
      <Group justify="space-between" mt="xs">
        <StatusBadge status={a.configuration_status} />
        {actions}
      </Group>
    </Paper>
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
