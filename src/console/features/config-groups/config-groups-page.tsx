// Configuration groups: members, a field editor from the catalog, the diff of what an apply
// would change, and apply (after a confirmation that shows that diff) with live per-appliance
// progress. Apply is disabled while nothing differs between the group and its members.
import {
  Alert,
  Badge,
  Button,
  Grid,
  Group,
  MultiSelect,
  Paper,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertCircle, IconPlus } from '@tabler/icons-react';
import { type FormEvent, useEffect, useState } from 'react';
import { errorMessage, fieldError, nestedFieldError } from '../../api/errors';
import {
  useAppliances,
  useApplyConfigGroup,
  useConfigGroups,
  useCreateConfigGroup,
  useSaveConfigGroup,
} from '../../api/fleet';
import type { ConfigGroup } from '../../api/types';
import { ErrorState, PageHeader } from '../../components/common';
import { useSession } from '../auth/session';
import { type Draft, FieldEditor } from './field-editor';
import { GroupApplyPanel } from './group-apply-panel';

function GroupDetail({ group, canWrite }: { group: ConfigGroup; canWrite: boolean }) {
  const appliances = useAppliances();
  const save = useSaveConfigGroup();
  const apply = useApplyConfigGroup();
  const [members, setMembers] = useState<string[]>(group.appliances);
  const [draft, setDraft] = useState<Draft>(group.content as Draft);
  // A new revision or another group selected: start from what the manager has.
  useEffect(() => {
    setMembers(group.appliances);
    setDraft(group.content as Draft);
  }, [group.appliances, group.content]);

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
      <GroupApplyPanel
        group={group}
        canWrite={canWrite}
        dirty={dirtyMembers || dirtyContent}
        apply={apply}
        statusLabel="Member status"
      />
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
