// What an apply of a group would change, and the apply itself, for configuration groups and hub
// groups alike (both use GET /api/v1/config-group/diff/{name}/; only the apply endpoint differs,
// so the page hands its apply mutation in). Apply is disabled, with the reason shown, while
// nothing differs or while edits are unsaved; it always asks first, showing that diff.
import { Badge, Button, Code, Group, Modal, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconPlayerPlay } from '@tabler/icons-react';
import { useId, useState } from 'react';
import { fieldLabel } from '../../../contract/fleet-fields';
import { errorMessage } from '../../api/errors';
import { useConfigDiff } from '../../api/fleet';
import type { ConfigDiff, ConfigGroup } from '../../api/types';
import { ErrorState } from '../../components/common';
import { MemberStatusTable } from './member-status-table';

/** Per member, the fields an apply would add, change or remove, labelled from the catalog. */
export function DiffTable({ diff }: { diff: ConfigDiff | undefined }) {
  return (
    <Table.ScrollContainer minWidth={560} scrollAreaProps={{ viewportProps: { tabIndex: 0 } }}>
      <Table fz="sm" aria-label="Configuration diff">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Appliance</Table.Th>
            <Table.Th>Setting</Table.Th>
            <Table.Th>From</Table.Th>
            <Table.Th>To</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(diff?.appliances ?? []).flatMap((a) =>
            a.changes.map((c) => (
              <Table.Tr key={`${a.name}-${c.field}`}>
                <Table.Td>{a.name}</Table.Td>
                <Table.Td>
                  {fieldLabel(c.field)}{' '}
                  <Badge size="xs" variant="light">
                    {c.action}
                  </Badge>
                  <Text size="xs" c="dimmed">
                    <Code fz="xs">{c.field}</Code>
                  </Text>
                </Table.Td>
                <Table.Td>
                  {c.from === undefined || c.from === null ? '—' : <Code>{JSON.stringify(c.from)}</Code>}
                </Table.Td>
                <Table.Td>
                  {c.to === undefined || c.to === null ? '—' : <Code>{JSON.stringify(c.to)}</Code>}
                </Table.Td>
              </Table.Tr>
            )),
          )}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/** Members whose running configuration differs although the saved revisions agree. */
const NEEDS_REAPPLY = new Set(['mismatch', 'error', 'changes_awaiting_apply']);

const NOTHING_DIFFERS = 'Nothing differs: every member runs the latest revision';

/** The page's apply mutation (configuration group or hub group endpoint). */
export interface GroupApply {
  mutate(
    vars: { name: string; appliances: string[] },
    options: { onSuccess: () => void; onError: (e: unknown) => void },
  ): void;
  isPending: boolean;
}

/**
 * Whether an apply would do anything: a saved revision exists, and some member would receive a
 * change or does not run the latest revision. `undefined` reason means Apply may be pressed.
 */
export function applyState(group: ConfigGroup, diff: ConfigDiff | undefined, dirty: boolean) {
  const pendingChanges = (diff?.appliances ?? []).reduce((n, a) => n + a.changes.length, 0);
  const drifted = group.statuses.filter((m) => NEEDS_REAPPLY.has(m.configuration_status)).length;
  let reason: string | undefined;
  if (group.appliances.length === 0) reason = 'The group has no members to apply to';
  else if (dirty) reason = 'Save first: an apply sends the saved configuration';
  else if (group.revision === 0) reason = 'Nothing saved yet: save a configuration, then apply it';
  else if (!diff) reason = 'Comparing the members with the saved configuration…';
  else if (pendingChanges === 0 && drifted === 0) reason = NOTHING_DIFFERS;
  return { pendingChanges, drifted, reason };
}

export function GroupApplyPanel({
  group,
  canWrite,
  dirty,
  apply,
  statusLabel,
}: {
  group: ConfigGroup;
  canWrite: boolean;
  /** Members or configuration edited on the page and not saved yet. */
  dirty: boolean;
  apply: GroupApply;
  /** Accessible name of the member status table. */
  statusLabel: string;
}) {
  // The key changes whenever the group or a member's applied state does, so the diff follows.
  const diff = useConfigDiff(
    group.name,
    `${group.revision}:${group.statuses.map((m) => `${m.name}=${m.configuration_status}@${m.applied_revision}`).join(',')}`,
  );
  const [confirming, setConfirming] = useState(false);
  const reasonId = useId();
  const { pendingChanges, drifted, reason } = applyState(group, diff.data, dirty);
  const count = `${group.appliances.length} appliance${group.appliances.length === 1 ? '' : 's'}`;

  return (
    <Paper withBorder p="md" radius="md">
      <Group justify="space-between" mb="xs" gap="xs">
        <Title order={3} size="h5">
          What an apply would change
        </Title>
        {canWrite && (
          <Button
            leftSection={<IconPlayerPlay size={16} />}
            disabled={reason !== undefined}
            title={reason}
            aria-describedby={reason ? reasonId : undefined}
            loading={apply.isPending}
            onClick={() => setConfirming(true)}
          >
            Apply to {count}
          </Button>
        )}
      </Group>
      {canWrite && reason && reason !== NOTHING_DIFFERS && (
        <Text size="sm" c="dimmed" mb="xs" id={reasonId} data-testid="apply-disabled-reason">
          {reason}
        </Text>
      )}
      {diff.error ? (
        <ErrorState error={diff.error} what="the diff" />
      ) : pendingChanges === 0 ? (
        <Text
          size="sm"
          c="dimmed"
          data-testid="no-differences"
          id={reason === NOTHING_DIFFERS ? reasonId : undefined}
        >
          {group.revision === 0 || group.appliances.length === 0
            ? 'Nothing to compare yet.'
            : drifted > 0
              ? `No saved change to send, but ${drifted} member${drifted === 1 ? ' does' : 's do'} not run the latest revision: an apply sends it again.`
              : 'No differences: every member runs the latest revision.'}
        </Text>
      ) : (
        <DiffTable diff={diff.data} />
      )}
      <Title order={3} size="h5" mt="md" mb="xs">
        Members
      </Title>
      <MemberStatusTable statuses={group.statuses} label={statusLabel} />
      <Modal
        opened={confirming}
        onClose={() => setConfirming(false)}
        title={`Apply ${group.name} (revision ${group.revision})?`}
        size="xl"
      >
        <Stack>
          <Text size="sm">
            The manager sends the configuration to {count} now. Appliances in maintenance are skipped until it
            ends.
          </Text>
          {pendingChanges > 0 ? (
            <DiffTable diff={diff.data} />
          ) : (
            <Text size="sm">
              No saved change: the apply sends revision {group.revision} again to the members that do not run
              it.
            </Text>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirming(false)}>
              Cancel
            </Button>
            <Button
              leftSection={<IconPlayerPlay size={16} />}
              loading={apply.isPending}
              onClick={() =>
                apply.mutate(
                  { name: group.name, appliances: group.appliances },
                  {
                    onSuccess: () => setConfirming(false),
                    onError: (e) =>
                      notifications.show({ color: 'red', title: 'Apply failed', message: errorMessage(e) }),
                  },
                )
              }
            >
              Apply now
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Paper>
  );
}
