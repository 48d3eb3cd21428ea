// Refresh (with a grace period for the old secret), delete, and the recent use of a token.
import { Alert, Button, Group, Modal, Select, Stack, Table, Text } from '@mantine/core';
import { IconAlertCircle } from '@tabler/icons-react';
import { useState } from 'react';
import { errorMessage } from '../../api/errors';
import { useDeleteToken, useRefreshToken, useTokenActivity } from '../../api/identity';
import type { Token, TokenWithSecret } from '../../api/types';
import { DateText, StatusBadge } from '../../components/common';

const GRACE = [
  { value: '0', label: 'No grace: the old secret stops now' },
  { value: '300', label: '5 minutes' },
  { value: '3600', label: '1 hour' },
  { value: '86400', label: '24 hours' },
];

export function RefreshModal({
  token,
  onClose,
  onRefreshed,
}: {
  token: Token | null;
  onClose: () => void;
  onRefreshed: (t: TokenWithSecret) => void;
}) {
  const refresh = useRefreshToken();
  const [grace, setGrace] = useState('3600');
  return (
    <Modal opened={token !== null} onClose={onClose} title={`Refresh “${token?.name ?? ''}”`} centered>
      <Stack>
        <Text size="sm">
          A new secret replaces the current one. Give the applications that use it time to switch with a grace
          period, during which both secrets work.
        </Text>
        <Select
          label="Grace period for the old secret"
          data={GRACE}
          value={grace}
          onChange={(v) => setGrace(v ?? '0')}
          allowDeselect={false}
        />
        {refresh.error && (
          <Alert color="red" icon={<IconAlertCircle />} role="alert">
            {errorMessage(refresh.error)}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button
            loading={refresh.isPending}
            onClick={() =>
              token &&
              refresh.mutate(
                { id: token.id, grace: Number(grace) },
                {
                  onSuccess: (t) => {
                    onClose();
                    onRefreshed(t);
                  },
                },
              )
            }
          >
            Refresh token
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

export function DeleteModal({ token, onClose }: { token: Token | null; onClose: () => void }) {
  const del = useDeleteToken();
  return (
    <Modal opened={token !== null} onClose={onClose} title={`Delete “${token?.name ?? ''}”?`} centered>
      <Stack>
        <Text size="sm">
          Applications using this token are refused from the next request on. This cannot be undone.
        </Text>
        {del.error && (
          <Alert color="red" icon={<IconAlertCircle />} role="alert">
            {errorMessage(del.error)}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button
            color="red"
            loading={del.isPending}
            onClick={() => token && del.mutate(token.id, { onSuccess: onClose })}
          >
            Delete token
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

export function ActivityModal({ token, onClose }: { token: Token | null; onClose: () => void }) {
  const activity = useTokenActivity(token?.id ?? null);
  const rows = activity.data?.results ?? [];
  return (
    <Modal
      opened={token !== null}
      onClose={onClose}
      title={`Recent use of “${token?.name ?? ''}”`}
      size="xl"
      centered
    >
      {activity.error ? (
        <Alert color="red" role="alert">
          {errorMessage(activity.error)}
        </Alert>
      ) : rows.length === 0 ? (
        <Text c="dimmed" size="sm">
          {activity.isPending ? 'Loading…' : 'This token has not been used yet.'}
        </Text>
      ) : (
        <Table.ScrollContainer minWidth={600}>
          <Table striped fz="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>When</Table.Th>
                <Table.Th>Request</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>IP</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((r) => (
                <Table.Tr key={r.id}>
                  <Table.Td>
                    <DateText iso={r.at} />
                  </Table.Td>
                  <Table.Td ff="monospace">
                    {r.method} {r.path}
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={r.status < 400 ? 'success' : 'failure'} label={String(r.status)} />
                  </Table.Td>
                  <Table.Td>{r.ip ?? '—'}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Modal>
  );
}
