// Add a user, reset a password.
import {
  Alert,
  Button,
  Group,
  Modal,
  PasswordInput,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  TextInput,
} from '@mantine/core';
import { IconAlertCircle } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { fieldError, formErrorMessage } from '../../api/errors';
import { useAddUser, useGroups, useSetPassword } from '../../api/identity';
import type { Role, User } from '../../api/types';

export const ROLES: { value: Role; label: string }[] = [
  { value: 'admin', label: 'Admin: everything' },
  { value: 'operator', label: 'Operator: runs the fleet, reads the rest' },
  { value: 'viewer', label: 'Viewer: reads' },
];

export function AddUserModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  return (
    <Modal opened={opened} onClose={onClose} title="Add user" size="lg" centered>
      {opened && <AddUserForm onDone={onClose} />}
    </Modal>
  );
}

function AddUserForm({ onDone }: { onDone: () => void }) {
  const add = useAddUser();
  const groups = useGroups();
  const [v, setV] = useState({
    username: '',
    email: '',
    first_name: '',
    last_name: '',
    password: '',
    role: 'viewer' as Role,
    api_only: false,
    group_id: null as string | null,
  });
  const set = <K extends keyof typeof v>(k: K, value: (typeof v)[K]) => setV((s) => ({ ...s, [k]: value }));
  const err = add.error;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate(
      {
        username: v.username.trim(),
        email: v.email.trim(),
        first_name: v.first_name,
        last_name: v.last_name,
        role: v.role,
        api_only: v.api_only,
        group_id: v.group_id ? Number(v.group_id) : null,
        ...(v.api_only ? {} : { password: v.password }),
      },
      { onSuccess: onDone },
    );
  };
  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="sm">
        {err && (
          <Alert color="red" icon={<IconAlertCircle />} role="alert">
            {formErrorMessage(err)}
          </Alert>
        )}
        <TextInput
          label="Username"
          required
          data-autofocus
          description="Letters, digits and @.+-_"
          value={v.username}
          onChange={(e) => set('username', e.currentTarget.value)}
          error={fieldError(err, 'username')}
        />
        <TextInput
          label="Email"
          type="email"
          value={v.email}
          onChange={(e) => set('email', e.currentTarget.value)}
          error={fieldError(err, 'email')}
        />
        <SimpleGrid cols={{ base: 1, xs: 2 }}>
          <TextInput
            label="First name"
            value={v.first_name}
            onChange={(e) => set('first_name', e.currentTarget.value)}
            error={fieldError(err, 'first_name')}
          />
          <TextInput
            label="Last name"
            value={v.last_name}
            onChange={(e) => set('last_name', e.currentTarget.value)}
            error={fieldError(err, 'last_name')}
          />
        </SimpleGrid>
        <Select
          label="Role"
          data={ROLES}
          value={v.role}
          onChange={(r) => set('role', (r as Role) ?? 'viewer')}
          allowDeselect={false}
          error={fieldError(err, 'role')}
        />
        <Select
          label="Group"
          clearable
          placeholder="No group"
          data={(groups.data ?? []).map((g) => ({ value: String(g.id), label: g.name }))}
          value={v.group_id}
          onChange={(g) => set('group_id', g)}
          error={fieldError(err, 'group_id')}
        />
        <Switch
          label="API-only user"
          description="For integrations: cannot sign in with a password, uses API tokens only"
          checked={v.api_only}
          onChange={(e) => set('api_only', e.currentTarget.checked)}
        />
        {!v.api_only && (
          <PasswordInput
            label="Password"
            required
            autoComplete="new-password"
            description="At least 12 characters; common passwords are refused"
            value={v.password}
            onChange={(e) => set('password', e.currentTarget.value)}
            error={fieldError(err, 'password')}
          />
        )}
        <Group justify="flex-end" mt="sm">
          <Button variant="default" onClick={onDone}>
            Cancel
          </Button>
          <Button type="submit" loading={add.isPending}>
            Add user
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

export function PasswordModal({
  user,
  self,
  onClose,
}: {
  user: User | null;
  self: boolean;
  onClose: () => void;
}) {
  const setPassword = useSetPassword();
  const [password, setPw] = useState('');
  const [current, setCurrent] = useState('');
  const err = setPassword.error;
  const close = () => {
    setPw('');
    setCurrent('');
    setPassword.reset();
    onClose();
  };
  return (
    <Modal
      opened={user !== null}
      onClose={close}
      title={`Set the password of ${user?.username ?? ''}`}
      centered
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (user)
            setPassword.mutate(
              { id: user.id, password, current: self ? current : undefined },
              { onSuccess: close },
            );
        }}
        noValidate
      >
        <Stack gap="sm">
          {err && (
            <Alert color="red" icon={<IconAlertCircle />} role="alert">
              {formErrorMessage(err)}
            </Alert>
          )}
          {self && (
            <PasswordInput
              label="Current password"
              autoComplete="current-password"
              value={current}
              onChange={(e) => setCurrent(e.currentTarget.value)}
              error={fieldError(err, 'current_password')}
            />
          )}
          <PasswordInput
            label="New password"
            required
            data-autofocus
            autoComplete="new-password"
            description="At least 12 characters; common passwords are refused. The user's other sessions end."
            value={password}
            onChange={(e) => setPw(e.currentTarget.value)}
            error={fieldError(err, 'password')}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={setPassword.isPending}>
              Set password
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
