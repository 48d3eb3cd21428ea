// Bulk actions on the selected appliances. Each appliance goes through its own endpoint (which
// checks the permission and writes the audit record), one after the other, and gets its own
// result: done, or refused with the API's reason. Removing asks first.
import { Alert, Button, Group, List, Modal, Progress, Select, Stack, Text, ThemeIcon } from '@mantine/core';
import {
  IconCircleCheck,
  IconCircleX,
  IconFolderPlus,
  IconShieldCheck,
  IconTool,
  IconToolsOff,
  IconTrash,
} from '@tabler/icons-react';
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorMessage } from '../../api/errors';
import { type BulkAction, type GroupTarget, runApplianceAction, useConfigGroups } from '../../api/fleet';
import type { Appliance } from '../../api/types';

const ACTION_LABELS: Record<BulkAction, string> = {
  authorize: 'Authorize',
  maintenance_on: 'Maintenance on',
  maintenance_off: 'Maintenance off',
  group: 'Add to group',
  remove: 'Remove',
};

const groupLabel = (g: GroupTarget) => `${g.kind === 'hub' ? 'hub group' : 'configuration group'} ${g.name}`;

interface Result {
  id: number;
  name: string;
  ok: boolean;
  reason?: string;
}

/** What a hub group holds: the hubs and the workers behind them (as on the hub groups page). */
const HUB_GROUP_TYPES = new Set(['tiscale-hub', 'tiscale-worker']);

/** Why an appliance cannot take the action here, before asking the API; undefined if it can. */
function refusedLocally(action: BulkAction, a: Appliance, group?: GroupTarget): string | undefined {
  if (action === 'authorize' && a.authorized) return 'already authorized';
  if (action === 'group' && group?.kind === 'hub' && !HUB_GROUP_TYPES.has(a.type))
    return 'only hubs and workers belong in a hub group';
  if (action === 'authorize' && a.type === 'a1000')
    return 'Spectra Analyze takes the API token its agent printed: authorize it on its own';
  return undefined;
}

export function BulkBar({
  selected,
  canWrite,
  canConfigure,
  onDone,
}: {
  selected: Appliance[];
  canWrite: boolean;
  canConfigure: boolean;
  /** Called when the results are closed, with the ids that were refused (to keep selected). */
  onDone: (refused: number[]) => void;
}) {
  const qc = useQueryClient();
  const [running, setRunning] = useState<{ action: BulkAction; group?: GroupTarget } | null>(null);
  const [results, setResults] = useState<Result[] | null>(null);
  const [total, setTotal] = useState(0);
  const [confirmRemove, setConfirmRemove] = useState(false);
  const [picking, setPicking] = useState(false);
  const [group, setGroup] = useState<string | null>(null);
  const groups = useConfigGroups();

  // Configuration groups and hub groups, told apart in the picker (names are unique across both).
  const allGroups = groups.data?.results ?? [];
  const groupOptions = [
    {
      group: 'Configuration groups',
      items: allGroups.filter((g) => g.kind !== 'hub').map((g) => ({ value: g.name, label: g.name })),
    },
    {
      group: 'Hub groups',
      items: allGroups.filter((g) => g.kind === 'hub').map((g) => ({ value: g.name, label: g.name })),
    },
  ].filter((o) => o.items.length > 0);
  const targetOf = (name: string): GroupTarget => ({
    name,
    kind: allGroups.find((g) => g.name === name)?.kind === 'hub' ? 'hub' : 'standard',
  });

  const run = async (action: BulkAction, target?: GroupTarget) => {
    const targets = [...selected];
    setRunning({ action, ...(target ? { group: target } : {}) });
    setTotal(targets.length);
    const out: Result[] = [];
    setResults([]);
    for (const a of targets) {
      const local = refusedLocally(action, a, target);
      if (local) out.push({ id: a.id, name: a.name, ok: false, reason: local });
      else {
        try {
          await runApplianceAction(action, a, target);
          out.push({ id: a.id, name: a.name, ok: true });
        } catch (err) {
          out.push({ id: a.id, name: a.name, ok: false, reason: errorMessage(err) });
        }
      }
      setResults([...out]);
    }
    await qc.invalidateQueries({ queryKey: ['appliances'] });
    if (action === 'group') await qc.invalidateQueries({ queryKey: ['config-groups'] });
  };

  const close = () => {
    const finished = results !== null && results.length === total;
    setRunning(null);
    setResults(null);
    if (finished) onDone((results ?? []).filter((r) => !r.ok).map((r) => r.id));
  };

  if (selected.length === 0 && !running) return null;
  const done = results?.length ?? 0;
  const failed = results?.filter((r) => !r.ok).length ?? 0;
  return (
    <>
      {selected.length > 0 && (
        <Group gap="xs" wrap="wrap" data-testid="bulk-bar" role="toolbar" aria-label="Bulk actions">
          <Text size="sm" fw={600}>
            {selected.length} selected
          </Text>
          {canWrite && (
            <>
              <Button
                size="xs"
                variant="light"
                leftSection={<IconShieldCheck size={14} />}
                onClick={() => run('authorize')}
              >
                Authorize
              </Button>
              <Button
                size="xs"
                variant="light"
                leftSection={<IconTool size={14} />}
                onClick={() => run('maintenance_on')}
              >
                Maintenance on
              </Button>
              <Button
                size="xs"
                variant="light"
                leftSection={<IconToolsOff size={14} />}
                onClick={() => run('maintenance_off')}
              >
                Maintenance off
              </Button>
            </>
          )}
          {canConfigure && (
            <Button
              size="xs"
              variant="light"
              leftSection={<IconFolderPlus size={14} />}
              onClick={() => {
                setGroup(null);
                setPicking(true);
              }}
            >
              Add to group
            </Button>
          )}
          {canWrite && (
            <Button
              size="xs"
              variant="light"
              color="red"
              leftSection={<IconTrash size={14} />}
              onClick={() => setConfirmRemove(true)}
            >
              Remove
            </Button>
          )}
        </Group>
      )}

      <Modal
        opened={confirmRemove}
        onClose={() => setConfirmRemove(false)}
        title="Remove appliances?"
        centered
      >
        <Stack gap="sm">
          <Text size="sm">
            Remove {selected.length === 1 ? 'this appliance' : `these ${selected.length} appliances`} from the
            manager? Their agents keep running on their last configuration; adding one back needs authorizing
            it again.
          </Text>
          <List size="sm" data-testid="remove-list">
            {selected.map((a) => (
              <List.Item key={a.id}>{a.name}</List.Item>
            ))}
          </List>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirmRemove(false)}>
              Cancel
            </Button>
            <Button
              color="red"
              onClick={() => {
                setConfirmRemove(false);
                void run('remove');
              }}
            >
              Remove {selected.length}
            </Button>
          </Group>
        </Stack>
      </Modal>

      <Modal opened={picking} onClose={() => setPicking(false)} title="Add to a group" centered>
        <Stack gap="sm">
          <Select
            label="Group"
            placeholder={allGroups.length ? 'Pick a group' : 'No groups yet'}
            data={groupOptions}
            value={group}
            onChange={setGroup}
            searchable
            data-autofocus
          />
          <Text size="xs" c="dimmed">
            An appliance is in at most one group. Hubs and the workers behind them go in a hub group; the
            group's configuration reaches them at the next apply.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setPicking(false)}>
              Cancel
            </Button>
            <Button
              disabled={!group}
              onClick={() => {
                setPicking(false);
                if (group) void run('group', targetOf(group));
              }}
            >
              Add {selected.length}
            </Button>
          </Group>
        </Stack>
      </Modal>

      <Modal
        opened={running !== null}
        onClose={close}
        title={
          running
            ? `${ACTION_LABELS[running.action]}${running.group ? `: ${groupLabel(running.group)}` : ''}`
            : ''
        }
        centered
      >
        <Stack gap="sm">
          <Progress value={total ? (done / total) * 100 : 0} aria-label="Progress" />
          <Text size="sm" role="status">
            {done < total ? `${done} of ${total}…` : `${total - failed} done, ${failed} refused.`}
          </Text>
          <Stack gap={6} data-testid="bulk-results">
            {(results ?? []).map((r) => (
              <Group
                key={r.id}
                gap="xs"
                wrap="nowrap"
                align="flex-start"
                data-result={r.ok ? 'done' : 'refused'}
              >
                <ThemeIcon size="sm" variant="light" color={r.ok ? 'green' : 'red'} aria-hidden="true">
                  {r.ok ? <IconCircleCheck size={14} /> : <IconCircleX size={14} />}
                </ThemeIcon>
                <Text size="sm">
                  <b>{r.name}</b>: {r.ok ? 'done' : `refused: ${r.reason}`}
                </Text>
              </Group>
            ))}
          </Stack>
          {failed > 0 && done === total && (
            <Alert color="orange" role="note">
              The refused appliances stay selected and unchanged.
            </Alert>
          )}
          <Group justify="flex-end">
            <Button onClick={close} disabled={done < total}>
              Close
            </Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}
