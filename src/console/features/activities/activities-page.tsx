// The fleet's events, newest first.
import { Group, Select, Table, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useState } from 'react';
import { useActivities } from '../../api/fleet';
import type { ActivityFilters } from '../../api/types';
import { DateText, EmptyTableRow, ErrorState, PageHeader, StatusBadge } from '../../components/common';
import { ExportMenu } from '../../components/export-menu';

export function ActivitiesPage() {
  const [appliance, setAppliance] = useState('');
  const [severity, setSeverity] = useState<string | null>(null);
  const [debounced] = useDebouncedValue(appliance, 400);
  const filters: ActivityFilters = {
    ...(debounced ? { appliance_name: debounced } : {}),
    ...(severity ? { severity: severity as ActivityFilters['severity'] } : {}),
  };
  const list = useActivities(filters);
  const rows = list.data?.results ?? [];
  return (
    <>
      <PageHeader
        title="Activities"
        description="What happened across the fleet: appliances coming and going, configuration applied, upgrades."
        actions={<ExportMenu path="/api/v1/activities/export/" filters={filters} what="activities" />}
      />
      <Group mb="sm" align="flex-end">
        <TextInput
          label="Appliance"
          placeholder="name"
          value={appliance}
          onChange={(e) => setAppliance(e.currentTarget.value)}
        />
        <Select
          label="Severity"
          placeholder="Any"
          clearable
          data={['info', 'warning', 'error']}
          value={severity}
          onChange={setSeverity}
        />
      </Group>
      {list.error ? (
        <ErrorState error={list.error} what="fleet activities" />
      ) : (
        <Table.ScrollContainer
          minWidth={800}
          // On a phone the table scrolls sideways: keyboard users reach the scrolling region too.
          scrollAreaProps={{ viewportProps: { tabIndex: 0 } }}
        >
          <Table aria-label="Activities" verticalSpacing={6} highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>When</Table.Th>
                <Table.Th>Appliance</Table.Th>
                <Table.Th>Kind</Table.Th>
                <Table.Th>Severity</Table.Th>
                <Table.Th>Message</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((e) => (
                <Table.Tr key={e.id}>
                  <Table.Td>
                    <DateText iso={e.at} />
                  </Table.Td>
                  <Table.Td>{e.appliance_name ?? '—'}</Table.Td>
                  <Table.Td>{e.kind}</Table.Td>
                  <Table.Td>
                    <StatusBadge
                      status={e.severity === 'warning' ? 'mismatch' : e.severity}
                      label={e.severity}
                    />
                  </Table.Td>
                  <Table.Td>{e.message}</Table.Td>
                </Table.Tr>
              ))}
              {rows.length === 0 && (
                <EmptyTableRow colSpan={5}>{list.isPending ? 'Loading…' : 'No activities.'}</EmptyTableRow>
              )}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </>
  );
}
