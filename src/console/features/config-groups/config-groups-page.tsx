// Configuration groups: members, a field editor from the catalog, the diff of what an apply
// would change, and apply (after a confirmation that shows that diff) with live per-appliance
// progress. Apply is disabled while nothing differs between the group and its members.
import {
  Alert,
  Badge,
  Button,
  Code,
  Grid,
  Group,
  Modal,
  MultiSelect,
  Paper,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertCircle, IconPlayerPlay, IconPlus } from '@tabler/icons-react';
import { type FormEvent, useEffect, useState } from 'react';
import { fieldLabel } from '../../../contract/fleet-fields';
import { errorMessage, fieldError, nestedFieldError } from '../../api/errors';
import {
  useAppliances,
  useApplyConfigGroup,
  useConfigDiff,
  useConfigGroups,
  useCreateConfigGroup,
  useSaveConfigGroup,
} from '../../api/fleet';
import type { ConfigDiff, ConfigGroup } from '../../api/types';
import { ErrorState, PageHeader } from '../../components/common';
import { useSession } from '../auth/session';
import { type Draft, FieldEditor } from './field-editor';
import { MemberStatusTable } from './member-status-table';

/** Per member, the fields an apply would add, change or remove, labelled from the catalog. */
function DiffTable({ diff }: { diff: ConfigDiff | undefined }) {
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

function GroupDetail({ group, canWrite }: { group: ConfigGroup; canWrite: boolean }) {
  const appliances = useAppliances();
  const save = useSaveConfigGroup();
  const apply = useApplyConfigGroup();
  const diff = useConfigDiff(
    group.name,
    `${group.revision}:${group.statuses.map((m) => `${m.name}=${m.configuration_status}@${m.applied_revision}`).join(',')}`,
  );
  const [members, setMembers] = useState<string[]>(group.appliances);
  const [draft, setDraft] = useState<Draft>(group.content as Draft);
  // A new revision or another group selected: start from what the manager has.
  useEffect(() => {
    setMembers(group.appliances);
    setDraft(group.content as Draft);
  }, [group.appliances, group.content]);

  const [confirming, setConfirming] = useState(false);
  const pendingChanges = (diff.data?.appliances ?? []).reduce((n, a) => n + a.changes.length, 0);
  // Nothing differs: every member took the latest revision and runs it.
  const drifted = group.statuses.filter((m) => NEEDS_REAPPLY.has(m.configuration_status)).length;
  const differs = pendingChanges > 0 || drifted > 0;
  const dirtyMembers = members.join(',') !== group.appliances.join(',');
  const dirtyContent = JSON.stringify(draft) !== JSON.stringify(group.content);
  const err = save.error;

  return (
    <Stack>
      <Paper withBorder p="md" radius="md">
        <Group justify="space-between" mb="xs">
          <Title order={2} size="h4">
            {group.name}
          </Title>
          <Badge variant="light">revision {group.revision}</Badge>
        </Group>
        {err && !fieldError(err, 'content') && (
          <Alert color="red" icon={<IconAlertCircle />} mb="sm" role="alert">
            {errorMessage(err)}
          </Alert>
        )}
        <MultiSelect
          label="Members"
          description="An appliance is in at most one group"
          searchable
          data={[...new Set([...(appliances.data?.results ?? []).map((a) => a.name), ...members])]}
          value={members}
          onChange={setMembers}
          disabled={!canWrite}
          error={fieldError(err, 'appliances')}
        />
        <Title order={3} size="h5" mt="md" mb="xs">
          Configuration
        </Title>
        <FieldEditor
          draft={draft}
          setDraft={setDraft}
          errors={(f) => nestedFieldError(err, `content.${f}`)}
        />
        {canWrite && (
          <Group mt="md" justify="flex-end">
            <Button
              disabled={!dirtyMembers && !dirtyContent}
              loading={save.isPending}
              onClick={() =>
                save.mutate(
                  {
                    name: group.name,
                    ...(dirtyMembers ? { appliances: members } : {}),
                    ...(dirtyContent ? { content: draft } : {}),
                  },
                  {
                    onSuccess: () =>
                      notifications.show({
                        color: 'green',
                        message: `Saved ${group.name}. Nothing changes on appliances until you apply.`,
                      }),
                  },
                )
              }
            >
              Save (does not apply)
            </Button>
          </Group>
        )}
      </Paper>
      <Paper withBorder p="md" radius="md">
        <Group justify="space-between" mb="xs">
          <Title order={3} size="h5">
            What an apply would change
          </Title>
          {canWrite && (
            <Button
              leftSection={<IconPlayerPlay size={16} />}
              disabled={
                group.appliances.length === 0 || dirtyContent || dirtyMembers || !diff.data || !differs
              }
              title={
                dirtyContent || dirtyMembers
                  ? 'Save first: an apply sends the saved configuration'
                  : !differs
                    ? 'Nothing differs: every member runs the latest revision'
                    : undefined
              }
              loading={apply.isPending}
              onClick={() => setConfirming(true)}
            >
              Apply to {group.appliances.length} appliance{group.appliances.length === 1 ? '' : 's'}
            </Button>
          )}
        </Group>
        {diff.error ? (
          <ErrorState error={diff.error} what="the diff" />
        ) : pendingChanges === 0 ? (
          <Text size="sm" c="dimmed" data-testid="no-differences">
            {drifted > 0
              ? `No saved change to send, but ${drifted} member${drifted === 1 ? ' does' : 's do'} not run the latest revision: an apply sends it again.`
              : 'No differences: every member runs the latest revision.'}
          </Text>
        ) : (
          <DiffTable diff={diff.data} />
        )}
        <Title order={3} size="h5" mt="md" mb="xs">
          Members
        </Title>
        <MemberStatusTable statuses={group.statuses} label="Member status" />
      </Paper>
      <Modal
        opened={confirming}
        onClose={() => setConfirming(false)}
        title={`Apply ${group.name} (revision ${group.revision})?`}
        size="xl"
      >
        <Stack>
          <Text size="sm">
            The manager sends the configuration to {group.appliances.length} appliance
            {group.appliances.length === 1 ? '' : 's'} now. Appliances in maintenance are skipped until it
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
    </Stack>
  );
}

export function ConfigGroupsPage() {
  const { can } = useSession();
  const groups = useConfigGroups();
  const create = useCreateConfigGroup();
  const [selected, setSelected] = useState<string | null>(null);
  const [newName, setNewName] = useState('');
  const canWrite = can('configuration:write');
  // Hub groups have their own page (their hub settings and save/apply routes differ).
  const list = (groups.data?.results ?? []).filter((g) => g.kind !== 'hub');
  const current = list.find((g) => g.name === selected) ?? list[0];

  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(newName.trim(), {
      onSuccess: (g) => {
        setNewName('');
        setSelected(g.name);
      },
    });
  };

  return (
    <>
      <PageHeader
        title="Configuration groups"
        description="Save a configuration for a set of appliances, review the diff, then apply it and watch each member reach done."
      />
      {groups.error ? (
        <ErrorState error={groups.error} what="configuration groups" />
      ) : (
        <Grid>
          <Grid.Col span={{ base: 12, md: 4 }}>
            <Paper withBorder p="xs" radius="md">
              <Stack gap={4}>
                {list.map((g) => {
                  const done = g.statuses.filter((s) => s.configuration_status === 'done').length;
                  return (
                    <Button
                      key={g.id}
                      variant={current?.name === g.name ? 'light' : 'subtle'}
                      justify="space-between"
                      fullWidth
                      rightSection={
                        <Text size="xs" c="dimmed">
                          {done}/{g.appliances.length} done
                        </Text>
                      }
                      onClick={() => setSelected(g.name)}
                      aria-pressed={current?.name === g.name}
                    >
                      {g.name}
                    </Button>
                  );
                })}
                {list.length === 0 && (
                  <Text size="sm" c="dimmed" p="xs">
                    {groups.isPending ? 'Loading…' : 'No groups yet.'}
                  </Text>
                )}
              </Stack>
              {canWrite && (
                <form onSubmit={submit} noValidate>
                  <Group mt="sm" align="flex-start" gap="xs" wrap="nowrap">
                    <TextInput
                      aria-label="New group name"
                      placeholder="New group name"
                      value={newName}
                      onChange={(e) => setNewName(e.currentTarget.value)}
                      error={
                        fieldError(create.error, 'name') ??
                        (create.error ? errorMessage(create.error) : undefined)
                      }
                      style={{ flex: 1 }}
                    />
                    <Button
                      type="submit"
                      variant="light"
                      loading={create.isPending}
                      leftSection={<IconPlus size={16} />}
                    >
                      Create
                    </Button>
                  </Group>
                </form>
              )}
            </Paper>
          </Grid.Col>
          <Grid.Col span={{ base: 12, md: 8 }}>
            {current && <GroupDetail key={current.name} group={current} canWrite={canWrite} />}
          </Grid.Col>
        </Grid>
      )}
    </>
  );
}
