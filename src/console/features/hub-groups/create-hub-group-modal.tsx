// The form that creates a hub group: its hub-only settings are fixed at creation.
import {
  Alert,
  Button,
  Group,
  Modal,
  NumberInput,
  PasswordInput,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertCircle } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { useCreateHubGroup } from '../../api/admin';
import { fieldError, formErrorMessage } from '../../api/errors';
import { useAppliances } from '../../api/fleet';
import type { NewHubGroup } from '../../api/types';

type HubForm = {
  name: string;
  primary_router_id: string;
  primary_host: string | null;
  fallback_router_id: string;
  fallback_host: string | null;
  vrrp_enabled: boolean;
  virtual_router_id: number | '';
  auth_pass: string;
  different_networks: boolean;
  virtual_ipaddress: string;
  api_worker_token: string;
  srv_available_worker_token: string;
  srv_worker_token: string;
};

const EMPTY: HubForm = {
  name: '',
  primary_router_id: '',
  primary_host: null,
  fallback_router_id: '',
  fallback_host: null,
  vrrp_enabled: false,
  virtual_router_id: '',
  auth_pass: '',
  different_networks: false,
  virtual_ipaddress: '',
  api_worker_token: '',
  srv_available_worker_token: '',
  srv_worker_token: '',
};

/** Only what was filled in: the manager applies its own defaults to the rest. */
function bodyOf(v: HubForm): NewHubGroup {
  const body: NewHubGroup = {
    name: v.name.trim(),
    primary_router_id: v.primary_router_id.trim(),
    primary_host: v.primary_host ?? '',
  };
  if (v.fallback_router_id.trim()) body.fallback_router_id = v.fallback_router_id.trim();
  if (v.fallback_host) body.fallback_host = v.fallback_host;
  if (v.vrrp_enabled) body.vrrp_enabled = true;
  if (v.virtual_router_id !== '') body.virtual_router_id = v.virtual_router_id;
  if (v.auth_pass) body.auth_pass = v.auth_pass;
  if (v.different_networks) body.different_networks = true;
  if (v.virtual_ipaddress.trim()) body.virtual_ipaddress = v.virtual_ipaddress.trim();
  if (v.api_worker_token) body.api_worker_token = v.api_worker_token;
  if (v.srv_available_worker_token) body.srv_available_worker_token = v.srv_available_worker_token;
  if (v.srv_worker_token) body.srv_worker_token = v.srv_worker_token;
  return body;
}

export function CreateHubGroupModal({
  opened,
  onClose,
  onCreated,
}: {
  opened: boolean;
  onClose: () => void;
  onCreated: (name: string) => void;
}) {
  const create = useCreateHubGroup();
  const appliances = useAppliances();
  const [v, setV] = useState<HubForm>(EMPTY);
  const hubs = (appliances.data?.results ?? []).filter((a) => a.type === 'tiscale-hub').map((a) => a.name);
  const set = <K extends keyof HubForm>(k: K, x: HubForm[K]) => setV((s) => ({ ...s, [k]: x }));
  const err = create.error;
  const fe = (k: string) => fieldError(err, k);
  const close = () => {
    setV(EMPTY);
    create.reset();
    onClose();
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(bodyOf(v), {
      onSuccess: (g) => {
        notifications.show({ color: 'green', message: `Created hub group ${g.name}` });
        onCreated(g.name);
        close();
      },
    });
  };
  return (
    <Modal opened={opened} onClose={close} title="New hub group" size="lg">
      <form onSubmit={submit} noValidate>
        <Stack gap="sm">
          <Text size="sm" c="dimmed">
            These settings are fixed once the group exists: to change one, create a new hub group.
          </Text>
          {err && (
            <Alert color="red" icon={<IconAlertCircle />} role="alert">
              {formErrorMessage(err)}
            </Alert>
          )}
          <TextInput
            label="Name"
            required
            data-autofocus
            value={v.name}
            onChange={(e) => set('name', e.currentTarget.value)}
            error={fe('name')}
          />
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <Select
              label="Primary hub"
              required
              data={hubs}
              value={v.primary_host}
              onChange={(x) => set('primary_host', x)}
              error={fe('primary_host')}
              nothingFoundMessage="No hubs: add and authorize one first"
            />
            <TextInput
              label="Primary router id"
              required
              value={v.primary_router_id}
              onChange={(e) => set('primary_router_id', e.currentTarget.value)}
              error={fe('primary_router_id')}
            />
            <Select
              label="Fallback hub"
              clearable
              data={hubs}
              value={v.fallback_host}
              onChange={(x) => set('fallback_host', x)}
              error={fe('fallback_host')}
            />
            <TextInput
              label="Fallback router id"
              value={v.fallback_router_id}
              onChange={(e) => set('fallback_router_id', e.currentTarget.value)}
              error={fe('fallback_router_id')}
            />
          </SimpleGrid>
          <Switch
            label="VRRP"
            description="A virtual address that moves to the fallback hub when the primary fails"
            checked={v.vrrp_enabled}
            onChange={(e) => set('vrrp_enabled', e.currentTarget.checked)}
            error={fe('vrrp_enabled')}
          />
          {v.vrrp_enabled && (
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              <NumberInput
                label="Virtual router id"
                min={1}
                max={255}
                value={v.virtual_router_id}
                onChange={(x) => set('virtual_router_id', x === '' ? '' : Number(x))}
                error={fe('virtual_router_id')}
              />
              <TextInput
                label="Virtual IP address"
                value={v.virtual_ipaddress}
                onChange={(e) => set('virtual_ipaddress', e.currentTarget.value)}
                error={fe('virtual_ipaddress')}
              />
              <PasswordInput
                label="VRRP password"
                description="At most 8 characters; write-only"
                autoComplete="new-password"
                maxLength={8}
                value={v.auth_pass}
                onChange={(e) => set('auth_pass', e.currentTarget.value)}
                error={fe('auth_pass')}
              />
              <Switch
                label="Hubs on different networks"
                mt="lg"
                checked={v.different_networks}
                onChange={(e) => set('different_networks', e.currentTarget.checked)}
                error={fe('different_networks')}
              />
            </SimpleGrid>
          )}
          <Title order={3} size="h6">
            Worker tokens (write-only)
          </Title>
          <SimpleGrid cols={{ base: 1, sm: 3 }}>
            <PasswordInput
              label="API worker token"
              autoComplete="new-password"
              value={v.api_worker_token}
              onChange={(e) => set('api_worker_token', e.currentTarget.value)}
              error={fe('api_worker_token')}
            />
            <PasswordInput
              label="Available-worker token"
              autoComplete="new-password"
              value={v.srv_available_worker_token}
              onChange={(e) => set('srv_available_worker_token', e.currentTarget.value)}
              error={fe('srv_available_worker_token')}
            />
            <PasswordInput
              label="Worker service token"
              autoComplete="new-password"
              value={v.srv_worker_token}
              onChange={(e) => set('srv_worker_token', e.currentTarget.value)}
              error={fe('srv_worker_token')}
            />
          </SimpleGrid>
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={create.isPending}>
              Create hub group
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
