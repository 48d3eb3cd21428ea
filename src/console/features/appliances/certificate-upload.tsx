// Upload a TLS certificate (chain and private key, PEM) to a hub or worker; the manager pins it.
import { Alert, Button, Code, FileInput, Group, Stack, Text, Title } from '@mantine/core';
import { IconCertificate } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { useUploadCertificate } from '../../api/admin';
import { errorMessage, fieldError } from '../../api/errors';

export function CertificateUpload({ applianceId, name }: { applianceId: number; name: string }) {
  const upload = useUploadCertificate(applianceId);
  const [file, setFile] = useState<File | null>(null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (file) upload.mutate(file);
  };
  const err = upload.error;
  return (
    <form onSubmit={submit} noValidate aria-label="Certificate upload">
      <Stack gap="xs">
        <Title order={2} size="h4">
          TLS certificate
        </Title>
        <Text size="sm" c="dimmed">
          One PEM file with the certificate (its chain up to the root) and its private key. {name} takes it
          into use at once and the manager pins the new certificate.
        </Text>
        <Group align="flex-start" gap="sm" wrap="wrap">
          <FileInput
            label="Certificate and key (PEM)"
            // Mantine's placeholder (gray 5) is 2:1 on white; the console's dimmed gray is 8:1.
            styles={{ placeholder: { color: 'var(--mantine-color-dimmed)' } }}
            placeholder="Choose a .pem file"
            accept=".pem,.crt,.key,application/x-pem-file"
            value={file}
            onChange={(f) => {
              setFile(f);
              upload.reset();
            }}
            clearable
            error={err ? (fieldError(err, 'file') ?? errorMessage(err)) : undefined}
            style={{ flex: 1, minWidth: 240 }}
          />
          <Button
            type="submit"
            mt={25}
            leftSection={<IconCertificate size={16} />}
            disabled={!file}
            loading={upload.isPending}
          >
            Upload certificate
          </Button>
        </Group>
        {upload.data && (
          <Alert color="green" role="status" title={upload.data.detail}>
            Fingerprint <Code>{upload.data.fingerprint}</Code>
          </Alert>
        )}
      </Stack>
    </form>
  );
}
