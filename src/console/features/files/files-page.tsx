// Files: the ones the caller may see, filtered by tag, owner and detected type; upload with tags,
// download, delete.
import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  FileInput,
  Group,
  Modal,
  Paper,
  Select,
  SimpleGrid,
  Stack,
  Table,
  TagsInput,
  Text,
  TextInput,
  Title,
  Tooltip,
  VisuallyHidden,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconAlertCircle, IconDownload, IconTrash, IconUpload } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { fileDownloadUrl, useDeleteFile, useFiles, useUploadFile } from '../../api/admin';
import { errorMessage, fieldError } from '../../api/errors';
import { useUsers } from '../../api/identity';
import type { FileFilters, StoredFile } from '../../api/types';
import { DateText, EmptyTableRow, ErrorState, PageHeader } from '../../components/common';
import { useSession } from '../auth/session';
import { formatBytes } from '../upgrades/upgrades-page';

const FILE_TYPES = [
  'pcap',
  'pcapng',
  'gzip',
  'zip',
  'pdf',
  'elf',
  'pe',
  'png',
  'jpeg',
  'pem',
  'text',
  'binary',
];

function UploadForm() {
  const upload = useUploadFile();
  const [file, setFile] = useState<File | null>(null);
  const [tags, setTags] = useState<string[]>([]);
  const [profile, setProfile] = useState('');
  const [visibility, setVisibility] = useState<string>('private');
  const err = upload.error;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    upload.mutate(
      { file, tags, profile: profile.trim(), visibility },
      {
        onSuccess: (f) => {
          notifications.show({ color: 'green', message: `Uploaded ${f.name} (${f.file_type})` });
          setFile(null);
          setTags([]);
        },
      },
    );
  };
  return (
    <form onSubmit={submit} noValidate aria-label="Upload a file">
      <Stack gap="sm">
        <Title order={2} size="h4">
          Upload
        </Title>
        {err && !fieldError(err, 'file') && !fieldError(err, 'tags') && (
          <Alert color="red" icon={<IconAlertCircle />} role="alert">
            {errorMessage(err)}
          </Alert>
        )}
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
          <FileInput
            label="File"
            description="Its type is detected from the content"
            placeholder="Choose a file"
            value={file}
            onChange={(f) => {
              setFile(f);
              upload.reset();
            }}
            clearable
            error={fieldError(err, 'file')}
          />
          <TagsInput
            label="Tags"
            description="Enter after each tag"
            value={tags}
            onChange={setTags}
            maxTags={20}
            error={fieldError(err, 'tags')}
          />
          <TextInput
            label="Profile"
            description="Empty: your token's default"
            value={profile}
            onChange={(e) => setProfile(e.currentTarget.value)}
            error={fieldError(err, 'profile')}
          />
          <Select
            label="Visibility"
            description="Who else may see it"
            data={[
              { value: 'private', label: 'Private (you and admins)' },
              { value: 'group', label: 'Your group' },
              { value: 'public', label: 'Everyone' },
            ]}
            value={visibility}
            allowDeselect={false}
            onChange={(v) => setVisibility(v ?? 'private')}
            error={fieldError(err, 'visibility')}
          />
        </SimpleGrid>
        <Group justify="flex-end">
          <Button
            type="submit"
            leftSection={<IconUpload size={16} />}
            disabled={!file}
            loading={upload.isPending}
          >
            Upload file
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function DeleteFileModal({ file, onClose }: { file: StoredFile | null; onClose: () => void }) {
  const del = useDeleteFile();
  return (
    <Modal opened={file !== null} onClose={onClose} title={`Delete “${file?.name ?? ''}”?`} centered>
      <Stack>
        <Text size="sm">The file is removed from the manager. This cannot be undone.</Text>
        {del.error && (
          <Alert color="red" role="alert">
            {errorMessage(del.error)}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button
            color="red"
            loading={del.isPending}
            onClick={() => file && del.mutate(file.id, { onSuccess: onClose })}
            data-autofocus
          >
            Delete file
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

export function FilesPage() {
  const { can, me } = useSession();
  const isAdmin = me?.user.role === 'admin';
  const users = useUsers(can('users:read'));
  const [tag, setTag] = useState('');
  const [search, setSearch] = useState('');
  const [owner, setOwner] = useState<string | null>(null);
  const [type, setType] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<StoredFile | null>(null);
  const [debouncedTag] = useDebouncedValue(tag.trim(), 300);
  const [debouncedSearch] = useDebouncedValue(search.trim(), 300);
  const filters: FileFilters = {
    ...(debouncedTag ? { tag: debouncedTag } : {}),
    ...(debouncedSearch ? { search: debouncedSearch } : {}),
    ...(owner ? { owner_id: Number(owner) } : {}),
    ...(type ? { type } : {}),
  };
  const files = useFiles(filters);
  const userList = users.data?.results ?? [];
  const names = new Map(userList.map((u) => [u.id, u.username]));
  const rows = files.data?.results ?? [];
  const ownerName = (id: number | null) =>
    id === null ? '—' : id === me?.user.id ? 'you' : (names.get(id) ?? (isAdmin ? `#${id}` : 'another user'));
  const canWrite = can('files:write');
  return (
    <>
      <PageHeader
        title="Files"
        description="Files stored on the manager (captures, certificates, samples). The type is detected from the content."
      />
      <Stack>
        {canWrite && (
          <Paper withBorder p="md" radius="md">
            <UploadForm />
          </Paper>
        )}
        <Paper withBorder p="md" radius="md">
          <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} mb="sm">
            <TextInput
              label="Name contains"
              value={search}
              onChange={(e) => setSearch(e.currentTarget.value)}
            />
            <TextInput label="Tag" value={tag} onChange={(e) => setTag(e.currentTarget.value)} />
            <Select
              label="Type"
              clearable
              data={FILE_TYPES}
              value={type}
              onChange={setType}
              placeholder="Any type"
            />
            {users.data ? (
              <Select
                label="Owner"
                clearable
                searchable
                data={userList.map((u) => ({ value: String(u.id), label: u.username }))}
                value={owner}
                onChange={setOwner}
                placeholder="Anyone"
              />
            ) : (
              <div />
            )}
          </SimpleGrid>
          {files.error ? (
            <ErrorState error={files.error} what="files" />
          ) : (
            <Table.ScrollContainer minWidth={820}>
              <Table aria-label="Files" fz="sm" verticalSpacing={6} data-testid="files-table">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Name</Table.Th>
                    <Table.Th>Type</Table.Th>
                    <Table.Th>Size</Table.Th>
                    <Table.Th>Tags</Table.Th>
                    <Table.Th>Owner</Table.Th>
                    <Table.Th>Visibility</Table.Th>
                    <Table.Th>Uploaded</Table.Th>
                    <Table.Th>
                      <VisuallyHidden>Actions</VisuallyHidden>
                    </Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {rows.map((f) => (
                    <Table.Tr key={f.id} data-file={f.name}>
                      <Table.Td style={{ overflowWrap: 'anywhere' }}>{f.name}</Table.Td>
                      <Table.Td>
                        <Tooltip label={f.mime_type} openDelay={300}>
                          <Badge variant="outline" size="sm" style={{ textTransform: 'none' }}>
                            {f.file_type}
                          </Badge>
                        </Tooltip>
                      </Table.Td>
                      <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatBytes(f.size)}</Table.Td>
                      <Table.Td>
                        <Group gap={4}>
                          {f.tags.map((t) => (
                            <Badge
                              key={t}
                              size="sm"
                              variant="light"
                              style={{ textTransform: 'none', cursor: 'pointer' }}
                              component="button"
                              type="button"
                              onClick={() => setTag(t)}
                              aria-label={`Show files tagged ${t}`}
                            >
                              {t}
                            </Badge>
                          ))}
                        </Group>
                      </Table.Td>
                      <Table.Td>{ownerName(f.owner_id)}</Table.Td>
                      <Table.Td>{f.visibility}</Table.Td>
                      <Table.Td>
                        <DateText iso={f.created_at} />
                      </Table.Td>
                      <Table.Td>
                        <Group gap={4} wrap="nowrap">
                          <Tooltip label="Download">
                            <ActionIcon
                              component="a"
                              href={fileDownloadUrl(f.id)}
                              download={f.name}
                              variant="subtle"
                              aria-label={`Download ${f.name}`}
                            >
                              <IconDownload size={16} />
                            </ActionIcon>
                          </Tooltip>
                          {canWrite && (
                            <Tooltip label="Delete">
                              <ActionIcon
                                variant="subtle"
                                color="red"
                                aria-label={`Delete ${f.name}`}
                                onClick={() => setDeleting(f)}
                              >
                                <IconTrash size={16} />
                              </ActionIcon>
                            </Tooltip>
                          )}
                        </Group>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                  {rows.length === 0 && (
                    <EmptyTableRow colSpan={8}>
                      {files.isPending ? 'Loading…' : 'No files match these filters.'}
                    </EmptyTableRow>
                  )}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
          {files.data && files.data.count > rows.length && (
            <Text size="xs" c="dimmed" mt="xs">
              Showing the newest {rows.length} of {files.data.count}; narrow the filters to find older files.
            </Text>
          )}
        </Paper>
      </Stack>
      <DeleteFileModal file={deleting} onClose={() => setDeleting(null)} />
    </>
  );
}
