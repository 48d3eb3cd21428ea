// Shows a new secret exactly once. Closing the dialog forgets it; nothing can show it again.
import { Alert, Button, Code, CopyButton, Group, Modal, Stack, Text } from '@mantine/core';
import { IconAlertTriangle, IconCheck, IconCopy } from '@tabler/icons-react';
import type { TokenWithSecret } from '../../api/types';

export function SecretModal({ token, onClose }: { token: TokenWithSecret | null; onClose: () => void }) {
  return (
    <Modal
      opened={token !== null}
      onClose={onClose}
      title={token ? `Token “${token.name}”` : ''}
      size="lg"
      centered
      closeOnClickOutside={false}
    >
      {token && (
        <Stack>
          <Alert color="orange" icon={<IconAlertTriangle />} title="Copy this token now" role="alert">
            This is the only time the secret is shown. Store it in your application's secret store; if it is
            lost, refresh the token to get a new one.
          </Alert>
          <Text size="sm" fw={500} id="secret-label">
            Secret
          </Text>
          <Code
            block
            aria-labelledby="secret-label"
            data-testid="token-secret"
            style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap', fontSize: 14 }}
          >
            {token.token}
          </Code>
          <Text size="xs" c="dimmed">
            Send it as <Code>Authorization: Token …</Code>, <Code>Authorization: Bearer …</Code> or{' '}
            <Code>x-token-id: …</Code>.
          </Text>
          <Group justify="space-between">
            <CopyButton value={token.token}>
              {({ copied, copy }) => (
                <Button
                  color={copied ? 'teal' : undefined}
                  leftSection={copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
                  onClick={copy}
                >
                  {copied ? 'Copied' : 'Copy to clipboard'}
                </Button>
              )}
            </CopyButton>
            <Button variant="default" onClick={onClose}>
              I have stored it
            </Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}
