// Licensing: the manager's licence (status, machine id, upload) and each appliance's licence.
import {
  Alert,
  Button,
  Code,
  CopyButton,
  FileInput,
  Group,
  List,
  Paper,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertCircle, IconCopy, IconInfoCircle, IconRefresh, IconUpload } from '@tabler/icons-react';
import { type FormEvent, type ReactNode, useState } from 'react';
import {
  useApplianceLicenses,
  useGenerateMachineId,
  useInstallApplianceLicense,
  useManagerLicense,
  useRegenerateApplianceMachineIds,
  useUploadManagerLicense,
} from '../../api/admin';
import { errorMessage, fieldError } from '../../api/errors';
import { EmptyTableRow, ErrorState, PageHeader, StatusBadge } from '../../components/common';
import { useSession } from '../auth/session';
import { SectionForm } from '../settings/settings-page';

const LICENCE_COLORS: Record<string, string> = { VALID: 'done', EXPIRED: 'expired', INVALID: 'error' };
const badgeStatus = (s: string) => LICENCE_COLORS[s] ?? 'disabled';

function Item({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {label}
      </Text>
      <Text size="sm" component="div" style={{ overflowWrap: 'anywhere' }}>
        {children}
      </Text>
    </div>
  );
}

/** A licence file picker with its upload button; the manager's refusal shows under the picker. */
function LicenceUpload({
  label,
  button,
  mutation,
}: {
  label: string;
  button: string;
  mutation: ReturnType<typeof useUploadManagerLicense> | ReturnType<typeof useInstallApplianceLicense>;
}) {
  const [file, setFile] = useState<File | null>(null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    mutation.mutate(file, {
      onSuccess: () => {
        setFile(null);
        notifications.show({ color: 'green', message: 'Licence installed' });
      },
    });
  };
  const err = mutation.error;
  return (
    <form onSubmit={submit} noValidate aria-label={`${label} upload`}>
      <Group align="flex-start" gap="sm" wrap="wrap">
        <FileInput
          label={label}
          placeholder="Choose a licence file"
          value={file}
          onChange={(f) => {
            setFile(f);
            mutation.reset();
          }}
          clearable
          error={err ? (fieldError(err, 'file') ?? errorMessage(err)) : undefined}
          style={{ flex: 1, minWidth: 240 }}
        />
        <Button
          type="submit"
          mt={25}
          leftSection={<IconUpload size={16} />}
          disabled={!file}
          loading={mutation.isPending}
        >
          {button}
        </Button>
      </Group>
    </form>
  );
}

/** A fresh manager: no licence file was ever installed (nothing of a licence is known). */
const isUnlicensed = (l: {
  product: string | null;
  serialNumber: string | null;
  expiryDate: string | null;
}) => l.product === null && l.serialNumber === null && l.expiryDate === null;

/** What an unlicensed manager means and how to license it, instead of a red INVALID. */
function NoLicence({ hasMachineId, canWrite }: { hasMachineId: boolean; canWrite: boolean }) {
  return (
    <Alert
      color="blue"
      icon={<IconInfoCircle />}
      title="No licence installed: everything works without one"
      role="status"
      data-testid="licence-none"
    >
      <Stack gap="xs">
        <Text size="sm">
          Steward does not lock any feature behind a licence: appliances, configuration, upgrades, API tokens
          and backups all work on this manager as it is. A licence records what you bought from your vendor
          (licensee, serial number, validity, limits such as a number of appliances) and shows it here; this
          version of Steward shows the limits but does not enforce them.
        </Text>
        <Text size="sm">To install one:</Text>
        <List size="sm" type="ordered" spacing={4}>
          <List.Item>
            {hasMachineId
              ? 'Copy the machine id below: it identifies this manager to the vendor.'
              : 'Generate a machine id (the button below): it identifies this manager to the vendor.'}
          </List.Item>
          <List.Item>Send the machine id to your vendor; they sign a licence file for it.</List.Item>
          <List.Item>
            Upload the file below. The manager trusts a licence only when it was started with the vendor’s
            public key (<Code>STEWARD_LICENSE_PUBLIC_KEY_FILE</Code>).
          </List.Item>
        </List>
        {!canWrite && (
          <Text size="sm">
            Installing a licence needs the licence write permission: ask an administrator.
          </Text>
        )}
        <Text size="sm">Appliance licences are separate: see the appliances below.</Text>
      </Stack>
    </Alert>
  );
}

function ManagerLicence({ canWrite }: { canWrite: boolean }) {
  const status = useManagerLicense();
  const generate = useGenerateMachineId();
  const upload = useUploadManagerLicense();
  if (status.error) return <ErrorState error={status.error} what="the manager licence" />;
  const l = status.data;
  const unlicensed = l ? isUnlicensed(l) : false;
  return (
    <Stack gap="sm">
      <Group justify="space-between">
        <Title order={2} size="h4">
          This manager
        </Title>
        {l &&
          (unlicensed ? (
            <StatusBadge status="disabled" label="Not licensed" />
          ) : (
            <StatusBadge status={badgeStatus(l.status)} label={l.status} />
          ))}
      </Group>
      {!l ? (
        <Text c="dimmed">Loading…</Text>
      ) : (
        <>
          {unlicensed ? (
            <NoLicence hasMachineId={l.machineId !== ''} canWrite={canWrite} />
          ) : (
            l.reason && (
              <Alert
                color={l.status === 'VALID' ? 'blue' : 'orange'}
                role="status"
                data-testid="licence-reason"
              >
                {l.reason}
              </Alert>
            )
          )}
          <SimpleGrid cols={{ base: 1, xs: 2, md: 3 }}>
            <Item label="Machine id">
              {l.machineId ? (
                <Group gap={4} wrap="nowrap">
                  <Code data-testid="machine-id">{l.machineId}</Code>
                  <CopyButton value={l.machineId}>
                    {({ copied, copy }) => (
                      <Button
                        size="compact-xs"
                        variant="subtle"
                        onClick={copy}
                        leftSection={<IconCopy size={12} />}
                        aria-label="Copy the machine id"
                      >
                        {copied ? 'Copied' : 'Copy'}
                      </Button>
                    )}
                  </CopyButton>
                </Group>
              ) : (
                <Text span size="sm" c="dimmed" data-testid="machine-id">
                  none yet
                </Text>
              )}
            </Item>
            {!unlicensed && (
              <>
                <Item label="Product">{l.product ?? '—'}</Item>
                <Item label="Licensee">{l.company ?? '—'}</Item>
                <Item label="Serial number">{l.serialNumber ?? '—'}</Item>
                <Item label="Licence type">{l.licenseType ?? '—'}</Item>
                <Item label="Valid">
                  {l.creationDate ?? '—'} to {l.expiryDate ?? '—'}
                </Item>
                <Item label="Limits">
                  {Object.keys(l.limits).length === 0
                    ? '—'
                    : Object.entries(l.limits)
                        .map(([k, v]) => `${k}: ${v}`)
                        .join(', ')}
                </Item>
              </>
            )}
          </SimpleGrid>
        </>
      )}
      {canWrite && (
        <>
          <LicenceUpload label="Manager licence file" button="Upload licence" mutation={upload} />
          <Group gap="sm">
            {l?.machineId === '' ? (
              // The first machine id voids nothing: no question to ask.
              <Button
                variant="light"
                leftSection={<IconRefresh size={16} />}
                loading={generate.isPending}
                onClick={() => generate.mutate()}
              >
                Generate a machine id
              </Button>
            ) : (
              <Button
                variant="light"
                color="orange"
                leftSection={<IconRefresh size={16} />}
                loading={generate.isPending}
                onClick={() => {
                  if (
                    window.confirm(
                      'Generate a new machine id? A licence bound to the current id stops being valid.',
                    )
                  )
                    generate.mutate();
                }}
              >
                Generate a new machine id
              </Button>
            )}
            {generate.error && (
              <Text c="red" size="sm" role="alert">
                {errorMessage(generate.error)}
              </Text>
            )}
          </Group>
        </>
      )}
    </Stack>
  );
}

function ApplianceLicences({ canWrite }: { canWrite: boolean }) {
  const list = useApplianceLicenses();
  const install = useInstallApplianceLicense();
  const regenerate = useRegenerateApplianceMachineIds();
  const rows = list.data?.results ?? [];
  return (
    <Stack gap="sm">
      <Title order={2} size="h4">
        Appliances
      </Title>
      <Text size="sm" c="dimmed">
        Send an appliance's machine id to the vendor; install the licence file you get back here (it is
        matched to its appliance by machine id).
      </Text>
      {list.error ? (
        <ErrorState error={list.error} what="appliance licences" />
      ) : (
        <Table.ScrollContainer minWidth={820}>
          <Table aria-label="Appliance licences" verticalSpacing={6} fz="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Appliance</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Machine id</Table.Th>
                <Table.Th>Licensee</Table.Th>
                <Table.Th>Expires</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((r) => (
                <Table.Tr key={r.id} data-appliance={r.appliance_name}>
                  <Table.Td>{r.appliance_name}</Table.Td>
                  <Table.Td>{r.type}</Table.Td>
                  <Table.Td>
                    <StatusBadge
                      status={r.status === 'VALID' ? 'done' : r.status === 'EXPIRED' ? 'expired' : 'disabled'}
                      label={r.status}
                    />
                  </Table.Td>
                  <Table.Td>
                    <Code>{r.machineId ?? '—'}</Code>
                  </Table.Td>
                  <Table.Td>{r.company ?? '—'}</Table.Td>
                  <Table.Td>{r.expiryDate ?? '—'}</Table.Td>
                </Table.Tr>
              ))}
              {rows.length === 0 && (
                <EmptyTableRow colSpan={6}>{list.isPending ? 'Loading…' : 'No appliances.'}</EmptyTableRow>
              )}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {canWrite && (
        <>
          <LicenceUpload label="Appliance licence file" button="Install licence" mutation={install} />
          <Group gap="sm">
            <Button
              variant="subtle"
              color="orange"
              leftSection={<IconRefresh size={16} />}
              loading={regenerate.isPending}
              onClick={() => {
                if (
                  window.confirm(
                    'Make a new machine id for every appliance? Licences bound to the old ids become void.',
                  )
                )
                  regenerate.mutate();
              }}
            >
              Regenerate appliance machine ids
            </Button>
            {regenerate.error && (
              <Text c="red" size="sm" role="alert">
                <IconAlertCircle size={14} /> {errorMessage(regenerate.error)}
              </Text>
            )}
          </Group>
        </>
      )}
    </Stack>
  );
}

export function LicensingPage() {
  const { can } = useSession();
  const canWrite = can('license:write');
  return (
    <>
      <PageHeader
        title="Licensing"
        description="The manager's licence and the licences of connected appliances. Licence files are signed by the vendor for one machine id."
      />
      <Stack>
        <Paper withBorder p="md" radius="md">
          <ManagerLicence canWrite={canWrite} />
        </Paper>
        <Paper withBorder p="md" radius="md">
          <ApplianceLicences canWrite={canWrite} />
        </Paper>
        <Paper withBorder p="md" radius="md">
          <Title order={2} size="h4" mb={4}>
            Licensing through the cloud service
          </Title>
          <Text size="sm" c="dimmed" mb="sm">
            Stored for licensing through the vendor's service; the token and proxy password are write-only.
          </Text>
          <SectionForm section="license_cloud" canWrite={canWrite} />
        </Paper>
      </Stack>
    </>
  );
}
