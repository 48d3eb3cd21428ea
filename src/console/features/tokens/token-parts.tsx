// Pieces of the token table: expiry and scope cells, the enabled toggle, row actions, and the
// card a row becomes on a narrow window.
import { ActionIcon, Badge, Code, Group, Menu, Paper, Stack, Switch, Text, Tooltip } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import {
  IconActivity,
  IconChartBar,
  IconDots,
  IconPencil,
  IconRefresh,
  IconTrash,
} from '@tabler/icons-react';
import { errorMessage } from '../../api/errors';
import { useUpdateToken } from '../../api/identity';
import type { Token } from '../../api/types';
import { DateText, Labelled, StatusBadge } from '../../components/common';

const SOON_MS = 7 * 86_400_000;

export function expiryState(t: Pick<Token, 'expires_at' | 'status'>, now = Date.now()) {
  if (t.status === 'expired') return 'expired' as const;
  if (!t.expires_at) return 'never' as const;
  const left = new Date(t.expires_at).getTime() - now;
  if (left <= 0) return 'expired' as const;
  if (left < SOON_MS) return 'soon' as const;
  return 'ok' as const;
}

export function ExpiryCell({ token }: { token: Token }) {
  const state = expiryState(token);
  if (state === 'never') {
    return (
      <Text span size="sm" c="dimmed">
        Never
      </Text>
    );
  }
  const days = Math.ceil((new Date(token.expires_at ?? 0).getTime() - Date.now()) / 86_400_000);
  return (
    <Stack gap={2}>
      <DateText iso={token.expires_at} />
      {state === 'expired' && (
        <Badge color="red" size="xs" variant="filled">
          expired
        </Badge>
      )}
      {state === 'soon' && (
        <Badge color="orange" size="xs" variant="filled">
          {days <= 1 ? 'expires today' : `expires in ${days} days`}
        </Badge>
      )}
    </Stack>
  );
}

export function Scopes({ scopes }: { scopes: string[] }) {
  if (scopes.includes('*')) {
    return (
      <Badge variant="outline" size="sm" style={{ textTransform: 'none' }}>
        all of the owner's
      </Badge>
    );
  }
  const shown = scopes.slice(0, 3);
  return (
    <Group gap={4}>
      {shown.map((s) => (
        <Badge
          key={s}
          variant="outline"
          size="sm"
          color={s.endsWith(':write') ? 'orange' : 'blue'}
          style={{ textTransform: 'none' }}
        >
          {s}
        </Badge>
      ))}
      {scopes.length > 3 && (
        <Tooltip label={scopes.slice(3).join(', ')} multiline maw={300}>
          <Badge variant="light" size="sm" color="gray" tabIndex={0}>
            +{scopes.length - 3}
          </Badge>
        </Tooltip>
      )}
    </Group>
  );
}

export function EnabledToggle({ token, canWrite }: { token: Token; canWrite: boolean }) {
  const update = useUpdateToken();
  return (
    <Switch
      aria-label={`Enabled: ${token.name}`}
      checked={token.enabled}
      disabled={!canWrite || token.status === 'revoked' || update.isPending}
      onChange={(e) =>
        update.mutate(
          { id: token.id, body: { enabled: e.currentTarget.checked } },
          {
            onError: (err) =>
              notifications.show({
                color: 'red',
                title: 'Could not change the token',
                message: errorMessage(err),
              }),
          },
        )
      }
    />
  );
}

export interface Handlers {
  edit: (t: Token) => void;
  refresh: (t: Token) => void;
  remove: (t: Token) => void;
  watch: (t: Token) => void;
  usage: (t: Token) => void;
}

export function TokenActions({ token: t, canWrite, on }: { token: Token; canWrite: boolean; on: Handlers }) {
  return (
    <Group gap={4} wrap="nowrap" justify="flex-end">
      {canWrite && (
        <>
          <Tooltip label="Edit">
            <ActionIcon variant="subtle" aria-label={`Edit ${t.name}`} onClick={() => on.edit(t)}>
              <IconPencil size={18} />
            </ActionIcon>
          </Tooltip>
          <Tooltip label="Refresh">
            <ActionIcon
              variant="subtle"
              aria-label={`Refresh ${t.name}`}
              onClick={() => on.refresh(t)}
              disabled={t.status === 'revoked'}
            >
              <IconRefresh size={18} />
            </ActionIcon>
          </Tooltip>
        </>
      )}
      <Menu position="bottom-end" withinPortal>
        <Menu.Target>
          <ActionIcon variant="subtle" color="gray" aria-label={`More actions for ${t.name}`}>
            <IconDots size={18} />
          </ActionIcon>
        </Menu.Target>
        <Menu.Dropdown>
          <Menu.Item leftSection={<IconActivity size={16} />} onClick={() => on.watch(t)}>
            Recent use
          </Menu.Item>
          <Menu.Item leftSection={<IconChartBar size={16} />} onClick={() => on.usage(t)}>
            Permissions used
          </Menu.Item>
          {canWrite && (
            <Menu.Item color="red" leftSection={<IconTrash size={16} />} onClick={() => on.remove(t)}>
              Delete
            </Menu.Item>
          )}
        </Menu.Dropdown>
      </Menu>
    </Group>
  );
}

/** The narrow-window form of a table row. */
export function TokenCard({
  token: t,
  canWrite,
  showOwner,
  on,
}: {
  token: Token;
  canWrite: boolean;
  showOwner: boolean;
  on: Handlers;
}) {
  const exp = expiryState(t);
  return (
    <Paper
      withBorder
      p="sm"
      radius="md"
      bg={
        exp === 'expired'
          ? 'var(--mantine-color-red-light)'
          : exp === 'soon'
            ? 'var(--mantine-color-orange-light)'
            : undefined
      }
    >
      <Group justify="space-between" wrap="nowrap" align="flex-start">
        <div style={{ minWidth: 0 }}>
          <Text fw={600} size="sm">
            {t.name}
          </Text>
          <Code style={{ whiteSpace: 'nowrap' }}>{t.token_hint}</Code>
          {showOwner && (
            <Text size="xs" c="dimmed">
              owner {t.owner_username ?? t.owner_id}
            </Text>
          )}
        </div>
        <TokenActions token={t} canWrite={canWrite} on={on} />
      </Group>
      <Group gap="xs" mt="xs">
        <EnabledToggle token={t} canWrite={canWrite} />
        <StatusBadge status={t.status} />
      </Group>
      <Group gap="lg" mt="xs" align="flex-start">
        <Labelled label="Expires">
          <ExpiryCell token={t} />
        </Labelled>
        <Labelled label="Last used">
          <DateText iso={t.last_used_at} empty="Never" />
        </Labelled>
      </Group>
      <Group mt="xs">
        <Scopes scopes={t.scopes} />
      </Group>
    </Paper>
  );
}
