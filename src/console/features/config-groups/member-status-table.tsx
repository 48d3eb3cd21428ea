// Per-appliance configuration status of a group's members (configuration and hub groups).
import { Table } from '@mantine/core';
import type { ConfigGroup } from '../../api/types';
import { DateText, StatusBadge } from '../../components/common';

export function MemberStatusTable({ statuses, label }: { statuses: ConfigGroup['statuses']; label: string }) {
  return (
    <Table.ScrollContainer minWidth={480} scrollAreaProps={{ viewportProps: { tabIndex: 0 } }}>
      <Table fz="sm" aria-label={label}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Appliance</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Applied revision</Table.Th>
            <Table.Th>Last applied</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {statuses.map((s) => (
            <Table.Tr key={s.name} data-member={s.name}>
              <Table.Td>{s.name}</Table.Td>
              <Table.Td>
                <StatusBadge status={s.configuration_status} />
              </Table.Td>
              <Table.Td>{s.applied_revision ?? '—'}</Table.Td>
              <Table.Td>
                <DateText iso={s.last_applied_config_timestamp} />
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
