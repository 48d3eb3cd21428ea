// Backup: create (optionally encrypted), follow progress, download, restore with confirmation.
import {
  Alert,
  Anchor,
  Button,
  Checkbox,
  FileInput,
  Group,
  Paper,
  PasswordInput,
  Progress,
  SimpleGrid,
  Stack,
  Text,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconDownload } from '@tabler/icons-react';
import { useState } from 'react';
import { errorMessage, fieldError } from '../../api/errors';
import { BACKUP_DOWNLOAD_URL, useBackupStatus, useCreateBackup, useRestoreBackup } from '../../api/system';
import { DateText, ErrorState, PageHeader, StatusBadge } from '../../components/common';
import { useSession } from '../auth/session';

function size(n: number | null) {
  if (n === null) return '—';
  return n > 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

export function BackupPage() {
  const { can } = useSession();
  const [poll, setPoll] = useState(false);
  const status = useBackupStatus(poll);
  const create = useCreateBackup();
  const restore = useRestoreBackup();
  const [passphrase, setPassphrase] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [restorePass, setRestorePass] = useState('');
  const [confirmed, setConfirmed] = useState(false);
  const s = status.data;
  const running = !!s && s.message !== 'idle' && s.status !== 'error';
  if (poll && s && !running) setPoll(false);

  return (
    <>
      <PageHeader
        title="Backup"
        description="A backup holds every table, uploaded files and certificates, with checksums. Encrypt it with a passphrase you keep elsewhere."
      />
      {status.error ? (
        <ErrorState error={status.error} what="backups" />
      ) : (
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          <Paper withBorder p="md" radius="md">
            <Title order={2} size="h4" mb="sm">
              Latest backup
            </Title>
            {s && (
              <Stack gap="xs">
                <Group gap="xs">
                  <Text size="sm">Status:</Text>
                  <StatusBadge status={s.status} />
                  <Text size="sm" c="dimmed">
                    {s.message}
                  </Text>
                </Group>
                {running && <Progress value={100} animated aria-label="Backup in progress" />}
                {s.backup_filename ? (
                  <Text size="sm">
                    <Text span c="dimmed" size="sm">
                      File:{' '}
                    </Text>
                    {s.backup_filename} ({size(s.size)}), <DateText iso={s.created_at} />
                  </Text>
                ) : (
                  <Text size="sm" c="dimmed">
                    No backup yet.
                  </Text>
                )}
                {s.backup_filename && !running && (
                  <Anchor href={BACKUP_DOWNLOAD_URL} download>
                    <Group gap={4}>
                      <IconDownload size={16} />
                      Download the archive
                    </Group>
                  </Anchor>
                )}
              </Stack>
            )}
            {can('backup:write') && (
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  create.mutate(passphrase, {
                    onSuccess: () => {
                      setPoll(true);
                      setPassphrase('');
                    },
                  });
                }}
                noValidate
              >
                <Stack gap="xs" mt="md">
                  {create.error && !fieldError(create.error, 'passphrase') && (
                    <Alert color="red" role="alert">
                      {errorMessage(create.error)}
                    </Alert>
                  )}
                  <PasswordInput
                    label="Passphrase for this archive (optional)"
                    description="Every archive is encrypted. Empty: the backup passphrase an admin set for this manager (POST /api/v1/config/backup/). At least 12 characters."
                    autoComplete="new-password"
                    value={passphrase}
                    onChange={(e) => setPassphrase(e.currentTarget.value)}
                    error={fieldError(create.error, 'passphrase')}
                  />
                  <Group justify="flex-end">
                    <Button type="submit" loading={create.isPending || running}>
                      Create backup
                    </Button>
                  </Group>
                </Stack>
              </form>
            )}
          </Paper>
          {can('backup:write') && (
            <Paper withBorder p="md" radius="md">
              <Title order={2} size="h4" mb="sm">
                Restore
              </Title>
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  if (file)
                    restore.mutate(
                      { file, passphrase: restorePass },
                      { onSuccess: () => notifications.show({ color: 'green', message: 'Backup restored' }) },
                    );
                }}
                noValidate
              >
                <Stack gap="xs">
                  <Alert color="orange" icon={<IconAlertTriangle />}>
                    Restoring replaces everything on this manager (users, tokens, fleet, settings) with the
                    archive's contents. Sessions may end.
                  </Alert>
                  {restore.error && (
                    <Alert color="red" role="alert">
                      {errorMessage(restore.error)}
                    </Alert>
                  )}
                  <FileInput
                    label="Backup archive"
                    accept=".gz,.tgz,application/gzip,application/octet-stream"
                    value={file}
                    onChange={setFile}
                    clearable
                  />
                  <PasswordInput
                    label="Passphrase"
                    description="The passphrase the archive was made with. Empty: the backup passphrase set on this manager, which opens only the archives it made with it."
                    autoComplete="off"
                    value={restorePass}
                    onChange={(e) => setRestorePass(e.currentTarget.value)}
                  />
                  <Checkbox
                    label="I understand that this replaces the manager's data"
                    checked={confirmed}
                    onChange={(e) => setConfirmed(e.currentTarget.checked)}
                  />
                  <Group justify="flex-end">
                    <Button
                      type="submit"
                      color="red"
                      disabled={!file || !confirmed}
                      loading={restore.isPending}
                    >
                      Restore
                    </Button>
                  </Group>
                </Stack>
              </form>
            </Paper>
          )}
        </SimpleGrid>
      )}
    </>
  );
}
