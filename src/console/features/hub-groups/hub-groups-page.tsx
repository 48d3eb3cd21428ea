// Hub groups: create one with its hub-only settings (fixed at creation), then save members and
// configuration, review what an apply would change, and apply it (after a confirmation showing
// that diff) with per-appliance status. Apply is disabled while nothing differs.
import {
  Alert,
  Badge,
  Button,
  Code,
  Grid,
  Group,
  MultiSelect,
  Paper,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertCircle, IconPlus } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import { useApplyHubGroup, useSaveHubGroup } from '../../api/admin';
import { errorMessage, fieldError, nestedFieldError } from '../../api/errors';
import { useAppliances, useConfigGroups } from '../../api/fleet';
import type { ConfigGroup } from '../../api/types';
import { ErrorState, PageHeader } from '../../components/common';
import { useSession } from '../auth/session';
import { type Draft, FieldEditor } from '../config-groups/field-editor';
import { GroupApplyPanel } from '../config-groups/group-apply-panel';
import { CreateHubGroupModal } from './create-hub-group-modal';

function HubSettings({ settings }: { settings: Record<string, unknown> }) {
  return (
    <Table fz="sm" aria-label="Hub-only settings" withRowBorders={false} verticalSpacing={2}>
      <Table.Tbody>
        {Object.entries(settings).map(([k, val]) => (
          <Table.Tr key={k}>
            <Table.Td w="40%">
              <Code>{k.endsWith('_set') ? k.slice(0, -4) : k}</Code>
            </Table.Td>
            <Table.Td>
              {k.endsWith('_set') ? (
                <Badge
                  size="sm"
                  variant="light"
                  color={val ? 'green' : 'gray'}
                  style={{ textTransform: 'none' }}
                >
                  {val ? 'set' : 'not set'}
                </Badge>
              ) : (
                String(val)
              )}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function HubGroupDetail({ group, canWrite }: { group: ConfigGroup; canWrite: boolean }) {
  const appliances = useAppliances();
  const save = useSaveHubGroup();
  const apply = useApplyHubGroup();
  const [members, setMembers] = useState<string[]>(group.appliances);
  const [draft, setDraft] = useState<Draft>(group.content as Draft);
  useEffect(() => {
    setMembers(group.appliances);
    setDraft(group.content as Draft);
  }, [group.appliances, group.content]);
  const dirty =
    members.join(',') !== group.appliances.join(',') ||
    JSON.stringify(draft) !== JSON.stringify(group.content);
  const err = save.error;
  const candidates = (appliances.data?.results ?? [])
    .filter((a) => a.type === 'tiscale-hub' || a.type === 'tiscale-worker')
    .map((a) => a.name);
  return (
    <Stack>
      <Paper withBorder p="md" radius="md">
        <Group justify="space-between" mb="xs">
          <Title order={2} size="h4">
            {group.name}
          </Title>
          <Badge variant="light">revision {group.revision}</Badge>
        </Group>
        <Title order={3} size="h5" mb={4}>
          Hub-only settings (fixed)
        </Title>
        <HubSettings settings={group.hub_settings ?? {}} />
        {err && !fieldError(err, 'content') && (
          <Alert color="red" icon={<IconAlertCircle />} my="sm" role="alert">
            {errorMessage(err)}
          </Alert>
        )}
        <MultiSelect
          mt="md"
          label="Members"
          description="Hubs and the workers behind them"
          searchable
          data={[...new Set([...candidates, ...members])]}
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
              disabled={!dirty}
              loading={save.isPending}
              onClick={() =>
                save.mutate(
                  { name: group.name, appliances: members, content: draft },
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
              Save hub group
            </Button>
          </Group>
        )}
      </Paper>
      <GroupApplyPanel
        group={group}
        canWrite={canWrite}
        dirty={dirty}
        apply={apply}
        statusLabel="Hub group member status"
      />
    </Stack>
  );
}

export function HubGroupsPage() {
  const { can } = useSession();
  const groups = useConfigGroups();
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const canWrite = can('configuration:write');
  const list = (groups.data?.results ?? []).filter((g) => g.kind === 'hub');
  const current = list.find((g) => g.name === selected) ?? list[0];
  return (
    <>
      <PageHeader
        title="Hub groups"
        description="A hub group pairs a primary and a fallback hub (optionally with VRRP) and the workers behind them. Its hub settings are fixed at creation; its configuration is saved and applied like any group's."
        actions={
          canWrite && (
            <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)}>
              New hub group
            </Button>
          )
        }
      />
      {groups.error ? (
        <ErrorState error={groups.error} what="hub groups" />
      ) : (
        <Grid>
          <Grid.Col span={{ base: 12, md: 4 }}>
            <Paper withBorder p="xs" radius="md">
              <Stack gap={4}>
                {list.map((g) => (
                  <Button
                    key={g.id}
                    variant={current?.name === g.name ? 'light' : 'subtle'}
                    justify="space-between"
                    fullWidth
                    rightSection={
                      <Text size="xs" c="dimmed">
                        {g.appliances.length} member{g.appliances.length === 1 ? '' : 's'}
                      </Text>
                    }
                    onClick={() => setSelected(g.name)}
                    aria-pressed={current?.name === g.name}
                  >
                    {g.name}
                  </Button>
                ))}
                {list.length === 0 && (
                  <Text size="sm" c="dimmed" p="xs">
                    {groups.isPending ? 'Loading…' : 'No hub groups yet.'}
                  </Text>
                )}
              </Stack>
            </Paper>
          </Grid.Col>
          <Grid.Col span={{ base: 12, md: 8 }}>
            {current && <HubGroupDetail key={current.name} group={current} canWrite={canWrite} />}
          </Grid.Col>
        </Grid>
      )}
      <CreateHubGroupModal opened={creating} onClose={() => setCreating(false)} onCreated={setSelected} />
    </>
  );
}
