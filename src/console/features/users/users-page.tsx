// Users and groups (admin): list, add, role, disable, password reset, per-user API key.
import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Group,
  Menu,
  Paper,
  Select,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
  VisuallyHidden,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconDots, IconKey, IconLock, IconPlus, IconTrash, IconUserPlus } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { errorMessage, fieldError } from '../../api/errors';
import {
  useAddGroup,
  useCreateApiKey,
  useDeleteGroup,
  useGroups,
  useUpdateUser,
  useUsers,
} from '../../api/identity';
import type { Role, TokenWithSecret, User } from '../../api/types';
import { DateText, ErrorState, PageHeader } from '../../components/common';
import { useSession } from '../auth/session';
import { SecretModal } from '../tokens/secret-modal';
import { AddUserModal, PasswordModal, ROLES } from './user-dialogs';

function UserRow({
  user,
  self,
  canWrite,
  groupName,
  onPassword,
  onApiKey,
}: {
  user: User;
  self: boolean;
  canWrite: boolean;
  groupName: string | undefined;
  onPassword: () => void;
  onApiKey: () => void;
}) {
  const update = useUpdateUser();
  const fail = (err: unknown) =>
    notifications.show({
      color: 'red',
      title: `Could not change ${user.username}`,
      message: errorMessage(err),
    });
  const fullName = [user.first_name, user.last_name].filter(Boolean).join(' ');
  return (
    <Table.Tr data-user={user.username}>
      <Table.Td>
        <Group gap={6}>
          <Text size="sm" fw={600}>
            {user.username}
          </Text>
          {self && (
            <Badge size="xs" variant="light">
              you
            </Badge>
          )}
          {user.api_only && (
            <Badge size="xs" color="grape" variant="light">
              API-only
            </Badge>
          )}
        </Group>
        <Text size="xs" c="dimmed">
          {[fullName, user.email].filter(Boolean).join(' · ') || '—'}
        </Text>
      </Table.Td>
      <Table.Td>
        <Select
          aria-label={`Role of ${user.username}`}
          size="xs"
          w={130}
          data={ROLES.map((r) => ({ value: r.value, label: r.value }))}
          value={user.role}
          disabled={!canWrite || self || update.isPending}
          allowDeselect={false}
          onChange={(r) => r && update.mutate({ id: user.id, body: { role: r as Role } }, { onError: fail })}
        />
      </Table.Td>
      <Table.Td>
        <Switch
          aria-label={`Active: ${user.username}`}
          checked={user.is_active}
          disabled={!canWrite || self || update.isPending}
          onChange={(e) =>
            update.mutate({ id: user.id, body: { is_active: e.currentTarget.checked } }, { onError: fail })
          }
        />
      </Table.Td>
      <Table.Td>
        {groupName ?? (
          <Text span c="dimmed" size="sm">
            —
          </Text>
        )}
      </Table.Td>
      <Table.Td>
        <DateText iso={user.last_login} empty="Never" />
      </Table.Td>
      <Table.Td>
        {canWrite && (
          <Menu position="bottom-end" withinPortal>
            <Menu.Target>
              <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${user.username}`}>
                <IconDots size={18} />
              </ActionIcon>
            </Menu.Target>
            <Menu.Dropdown>
              {!user.api_only && (
                <Menu.Item leftSection={<IconLock size={16} />} onClick={onPassword}>
                  Reset password
                </Menu.Item>
              )}
              <Menu.Item leftSection={<IconKey size={16} />} onClick={onApiKey}>
                New API key (replaces the previous one)
              </Menu.Item>
            </Menu.Dropdown>
          </Menu>
        )}
      </Table.Td>
    </Table.Tr>
  );
}

function GroupsPanel({ canWrite }: { canWrite: boolean }) {
  const groups = useGroups();
  const add = useAddGroup();
  const del = useDeleteGroup();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate(
      { name: name.trim(), description },
      {
        onSuccess: () => {
          setName('');
          setDescription('');
        },
      },
    );
  };
  return (
    <Paper withBorder p="md" radius="md">
      <Title order={2} size="h4" mb="sm">
        Groups
      </Title>
      {groups.error && <ErrorState error={groups.error} what="groups" />}
      <Table verticalSpacing={6} aria-label="Groups" mb="sm">
        <Table.Tbody>
          {(groups.data ?? []).map((g) => (
            <Table.Tr key={g.id}>
              <Table.Td w={200}>
                <Text size="sm" fw={600}>
                  {g.name}
                </Text>
              </Table.Td>
              <Table.Td>
                <Text size="sm" c="dimmed">
                  {g.description || '—'}
                </Text>
              </Table.Td>
              <Table.Td w={40}>
                {canWrite && (
                  <ActionIcon
                    variant="subtle"
                    color="red"
                    aria-label={`Delete group ${g.name}`}
                    onClick={() =>
                      del.mutate(g.id, {
                        onError: (err) =>
                          notifications.show({
                            color: 'red',
                            title: 'Could not delete',
                            message: errorMessage(err),
                          }),
                      })
                    }
                  >
                    <IconTrash size={16} />
                  </ActionIcon>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {groups.data?.length === 0 && (
        <Text size="sm" c="dimmed" mb="sm">
          No groups yet. Groups collect users (and their tokens) for reporting and defaults.
        </Text>
      )}
      {canWrite && (
        <form onSubmit={submit} noValidate>
          <Group align="flex-start" gap="xs">
            <TextInput
              label="New group"
              placeholder="soc"
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              error={
                fieldError(add.error, 'name') ??
                (add.error && !fieldError(add.error, 'description') ? errorMessage(add.error) : undefined)
              }
            />
            <TextInput
              label="Description"
              placeholder="Security operations"
              value={description}
              onChange={(e) => setDescription(e.currentTarget.value)}
              error={fieldError(add.error, 'description')}
              style={{ flex: '1 1 240px' }}
            />
            <Button
              type="submit"
              variant="light"
              mt={24}
              leftSection={<IconPlus size={16} />}
              loading={add.isPending}
            >
              Add group
            </Button>
          </Group>
        </form>
      )}
    </Paper>
  );
}

export function UsersPage() {
  const { me, can } = useSession();
  const users = useUsers();
  const groups = useGroups();
  const apiKey = useCreateApiKey();
  const [adding, setAdding] = useState(false);
  const [pwUser, setPwUser] = useState<User | null>(null);
  const [secret, setSecret] = useState<TokenWithSecret | null>(null);
  const [search, setSearch] = useState('');
  const canWrite = can('users:write');
  const groupNames = new Map((groups.data ?? []).map((g) => [g.id, g.name]));
  const q = search.trim().toLowerCase();
  const rows = (users.data?.results ?? []).filter(
    (u) => !q || `${u.username} ${u.email} ${u.first_name} ${u.last_name}`.toLowerCase().includes(q),
  );

  return (
    <>
      <PageHeader
        title="Users & groups"
        description="Who can sign in to the console and use the API, with which role. Disabling a user ends their sessions and suspends their tokens."
        actions={
          canWrite && (
            <Button leftSection={<IconUserPlus size={16} />} onClick={() => setAdding(true)}>
              Add user
            </Button>
          )
        }
      />
      {apiKey.error && (
        <Alert color="red" mb="sm" role="alert" title="Could not create the API key">
          {errorMessage(apiKey.error)}
        </Alert>
      )}
      {users.error ? (
        <ErrorState error={users.error} what="users" />
      ) : (
        <Stack gap="lg">
          <Stack gap="sm">
            <TextInput
              aria-label="Search users"
              placeholder="Search users"
              value={search}
              onChange={(e) => setSearch(e.currentTarget.value)}
              maw={320}
            />
            <Table.ScrollContainer minWidth={720}>
              <Table verticalSpacing="xs" highlightOnHover aria-label="Users">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>User</Table.Th>
                    <Table.Th>Role</Table.Th>
                    <Table.Th>Active</Table.Th>
                    <Table.Th>Group</Table.Th>
                    <Table.Th>Last login</Table.Th>
                    <Table.Th>
                      <VisuallyHidden>Actions</VisuallyHidden>
                    </Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {rows.map((u) => (
                    <UserRow
                      key={u.id}
                      user={u}
                      self={u.id === me?.user.id}
                      canWrite={canWrite}
                      groupName={u.group_id ? groupNames.get(u.group_id) : undefined}
                      onPassword={() => setPwUser(u)}
                      onApiKey={() => apiKey.mutate(u.id, { onSuccess: setSecret })}
                    />
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Stack>
          <GroupsPanel canWrite={canWrite} />
        </Stack>
      )}
      <AddUserModal opened={adding} onClose={() => setAdding(false)} />
      <PasswordModal user={pwUser} self={pwUser?.id === me?.user.id} onClose={() => setPwUser(null)} />
      <SecretModal token={secret} onClose={() => setSecret(null)} />
    </>
  );
}
