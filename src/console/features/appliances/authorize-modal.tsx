// Authorizing one appliance: hubs and workers pair (the manager signs with its key, which the
// agent checks and pins), Spectra Analyze takes the token its agent printed. The dialog shows the
// manager's fingerprint before, and the certificate fingerprint pinned after, so the admin can
// compare both with what the agent printed when it started.
import { Alert, Button, Code, Group, Modal, PasswordInput, Stack, Text } from '@mantine/core';
import { IconAlertCircle, IconCircleCheck } from '@tabler/icons-react';
import { useState } from 'react';
import { errorMessage, fieldError } from '../../api/errors';
import { useAuthorizeAppliance } from '../../api/fleet';
import type { Appliance } from '../../api/types';
import { ManagerFingerprint } from './agent-command';

/** Hubs and workers pair with the manager; analyzers (a1000) are authorized with the token their agent printed. */
export const pairs = (type: string) => type !== 'a1000';

export function AuthorizeModal({ appliance, onClose }: { appliance: Appliance | null; onClose: () => void }) {
  const authorize = useAuthorizeAppliance();
  const [token, setToken] = useState('');
  const [done, setDone] = useState<Appliance | null>(null);
  const close = () => {
    setToken('');
    setDone(null);
    authorize.reset();
    onClose();
  };
  const pairing = appliance ? pairs(appliance.type) : false;
  return (
    <Modal
      opened={appliance !== null}
      onClose={close}
      title={`Authorize ${appliance?.name ?? ''}`}
      size="lg"
      centered
    >
      {done ? (
        <Stack gap="sm">
          <Alert color="green" icon={<IconCircleCheck />} role="status" title="Authorized">
            {done.name} is authorized and its certificate is pinned.
          </Alert>
          <Text size="sm">
            Pinned certificate:{' '}
            <Code style={{ wordBreak: 'break-all' }} data-testid="pinned-fingerprint">
              {done.tls_fingerprint ?? 'none (the agent serves plain HTTP)'}
            </Code>
          </Text>
          <Text size="sm">
            It must be the <Code>TLS certificate:</Code> line the agent printed when it started. If it is not,
            something else answered at <Code>{done.url}</Code>: remove the appliance.
          </Text>
          <Group justify="flex-end">
            <Button onClick={close} data-autofocus>
              Done
            </Button>
          </Group>
        </Stack>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (appliance)
              authorize.mutate({ id: appliance.id, ...(pairing ? {} : { token }) }, { onSuccess: setDone });
          }}
          noValidate
        >
          <Stack gap="sm">
            <Text size="sm">
              {pairing ? (
                <>
                  The manager pairs with the agent at <Code>{appliance?.url}</Code>: it checks the agent's
                  identity and pins its certificate. An agent started with <Code>--manager</Code> accepts only
                  the manager with that fingerprint.
                </>
              ) : (
                <>
                  Paste the API token the appliance's agent printed when it first started (
                  <Code>steward agent</Code>).
                </>
              )}
            </Text>
            <ManagerFingerprint />
            <Text size="xs" c="dimmed">
              The agent printed the manager it pins (<Code>Pairs only with manager:</Code>) when it started;
              after authorizing, this dialog shows the certificate it pinned to compare with its{' '}
              <Code>TLS certificate:</Code> line.
            </Text>
            {authorize.error && !fieldError(authorize.error, 'token') && (
              <Alert color="red" icon={<IconAlertCircle />} role="alert">
                {errorMessage(authorize.error)}
              </Alert>
            )}
            {!pairing && (
              <PasswordInput
                label="Agent token"
                required
                data-autofocus
                value={token}
                onChange={(e) => setToken(e.currentTarget.value)}
                error={fieldError(authorize.error, 'token')}
              />
            )}
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>
                Cancel
              </Button>
              <Button type="submit" loading={authorize.isPending} data-autofocus={pairing || undefined}>
                {pairing ? 'Pair and authorize' : 'Authorize'}
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Modal>
  );
}
