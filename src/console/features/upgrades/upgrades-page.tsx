// Upgrades: the manager's package store (list, upload) and one appliance upgrade at a time,
// with its live status and log.
import {
  Alert,
  Button,
  Code,
  FileInput,
  Group,
  Paper,
  ScrollArea,
  Select,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertCircle, IconPlayerPlay, IconUpload } from '@tabler/icons-react';
import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import {
  isUpgradeRunning,
  usePackages,
  useStartUpgrade,
  useUpgradeStatus,
  useUploadPackage,
} from '../../api/admin';
import { errorMessage, fieldError } from '../../api/errors';
import { useAppliances } from '../../api/fleet';
import { EmptyTableRow, ErrorState, PageHeader, StatusBadge } from '../../components/common';
import { useSession } from '../auth/session';

const UPGRADE_COLORS: Record<string, string> = {
  idle: 'disabled',
  pending: 'pending',
  downloading: 'running',
  installing: 'running',
  error: 'error',
};

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

function PackageStore({ canWrite }: { canWrite: boolean }) {
  const packages = usePackages();
  const upload = useUploadPackage();
  const [file, setFile] = useState<File | null>(null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    upload.mutate(file, {
      onSuccess: (p) => {
        setFile(null);
        notifications.show({ color: 'green', message: `Added ${p.type} ${p.version}` });
      },
    });
  };
  const bins = packages.data?.bins ?? [];
  return (
    <Stack gap="sm">
      <Group justify="space-between" wrap="wrap">
        <Title order={2} size="h4">
          Package store
        </Title>
        {packages.data && (
          <Text size="sm" c="dimmed" data-testid="package-space">
            {formatBytes(packages.data.used_space)} used · {formatBytes(packages.data.allowed_space)} free
          </Text>
        )}
      </Group>
      {packages.error ? (
        <ErrorState error={packages.error} what="the package store" />
      ) : (
        <Table.ScrollContainer minWidth={640}>
          <Table aria-label="Packages" fz="sm" verticalSpacing={6}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Type</Table.Th>
                <Table.Th>Version</Table.Th>
                <Table.Th>Requires</Table.Th>
                <Table.Th>Size</Table.Th>
                <Table.Th>SHA-256</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {bins.map((b) => (
                <Table.Tr key={`${b.type}-${b.version}`}>
                  <Table.Td>{b.type}</Table.Td>
                  <Table.Td>{b.version}</Table.Td>
                  <Table.Td>{b.requires}</Table.Td>
                  <Table.Td>{formatBytes(b.size)}</Table.Td>
                  <Table.Td>
                    <Code title={b.sha256}>{b.sha256.slice(0, 16)}…</Code>
                  </Table.Td>
                </Table.Tr>
              ))}
              {bins.length === 0 && (
                <EmptyTableRow colSpan={5}>
                  {packages.isPending ? 'Loading…' : 'No packages. Upload a signed Steward package.'}
                </EmptyTableRow>
              )}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {canWrite && (
        <form onSubmit={submit} noValidate aria-label="Package upload">
          <Group align="flex-start" gap="sm" wrap="wrap">
            <FileInput
              label="Package file"
              description="A signed Steward package; its publisher key must be in the manager's package-keys"
              placeholder="Choose a package"
              value={file}
              onChange={(f) => {
                setFile(f);
                upload.reset();
              }}
              clearable
              error={
                upload.error ? (fieldError(upload.error, 'file') ?? errorMessage(upload.error)) : undefined
              }
              style={{ flex: 1, minWidth: 240 }}
            />
            <Button
              type="submit"
              mt={46}
              leftSection={<IconUpload size={16} />}
              disabled={!file}
              loading={upload.isPending}
            >
              Upload package
            </Button>
          </Group>
        </form>
      )}
    </Stack>
  );
}

function ApplianceUpgrade({ canWrite }: { canWrite: boolean }) {
  const appliances = useAppliances();
  const [name, setName] = useState<string | null>(null);
  const status = useUpgradeStatus(name);
  const start = useStartUpgrade();
  const qc = useQueryClient();
  const list = (appliances.data?.results ?? []).filter((a) => a.authorized);
  const selected = list.find((a) => a.name === name);
  const running = isUpgradeRunning(status.data?.status);
  // When an upgrade ends, the appliance reports its new release: refresh the list.
  const wasRunning = useRef(false);
  useEffect(() => {
    if (wasRunning.current && !running) void qc.invalidateQueries({ queryKey: ['appliances'] });
    wasRunning.current = running;
  }, [running, qc]);
  return (
    <Stack gap="sm">
      <Title order={2} size="h4">
        Upgrade an appliance
      </Title>
      <Text size="sm" c="dimmed">
        The appliance takes the newest package in the store for its type that its release may take. One
        upgrade runs at a time across the fleet.
      </Text>
      <Group align="flex-end" gap="sm" wrap="wrap">
        <Select
          label="Appliance"
          placeholder="Choose an appliance"
          searchable
          data={list.map((a) => ({
            value: a.name,
            label: `${a.name} (${a.type} ${a.release ?? '?'}${a.available_update_version ? ` → ${a.available_update_version}` : ''})`,
          }))}
          value={name}
          onChange={(v) => {
            setName(v);
            start.reset();
          }}
          w={360}
          maw="100%"
          nothingFoundMessage="No authorized appliances"
        />
        {canWrite && (
          <Button
            leftSection={<IconPlayerPlay size={16} />}
            disabled={!name || running}
            loading={start.isPending}
            onClick={() => name && start.mutate(name)}
          >
            Start upgrade
          </Button>
        )}
      </Group>
      {selected && !selected.available_update_version && (
        <Text size="sm" c="dimmed">
          The store has no newer package for {selected.name}.
        </Text>
      )}
      {start.error && (
        <Alert color="red" icon={<IconAlertCircle />} role="alert" title="The upgrade did not start">
          {errorMessage(start.error)}
        </Alert>
      )}
      {status.error && <ErrorState error={status.error} what="the upgrade status" />}
      {status.data && (
        <Paper withBorder p="sm" radius="md" aria-live="polite" data-testid="upgrade-status">
          <Group gap="sm" mb="xs">
            <Text size="sm" fw={600}>
              {status.data.appliance_name}
            </Text>
            <StatusBadge
              status={UPGRADE_COLORS[status.data.status] ?? 'disabled'}
              label={status.data.status}
            />
            {status.data.version && (
              <Text size="sm" c="dimmed">
                to {status.data.version}
              </Text>
            )}
            {running && (
              <Text size="xs" c="dimmed">
                refreshing every second
              </Text>
            )}
          </Group>
          <ScrollArea.Autosize mah={240}>
            <Code block aria-label="Upgrade log">
              {status.data.log}
            </Code>
          </ScrollArea.Autosize>
        </Paper>
      )}
    </Stack>
  );
}

export function UpgradesPage() {
  const { can } = useSession();
  const canWrite = can('upgrades:write');
  return (
    <>
      <PageHeader
        title="Upgrades"
        description="Signed packages the manager keeps for its appliances, and the upgrade of one appliance at a time."
      />
      <Stack>
        <Paper withBorder p="md" radius="md">
          <PackageStore canWrite={canWrite} />
        </Paper>
        <Paper withBorder p="md" radius="md">
          <ApplianceUpgrade canWrite={canWrite} />
        </Paper>
      </Stack>
    </>
  );
}
