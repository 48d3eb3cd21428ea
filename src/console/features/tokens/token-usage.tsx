// "Permissions used": for each scope of a token, how many of its requests needed it in a window
// and when it was last used; then, on request, narrowing the token to the scopes it used, after a
// confirmation that lists what will be removed. API keys carry all of their owner's permissions
// and cannot be narrowed (the manager refuses), so the page does not offer it for them.
import { Alert, Badge, Button, Group, Modal, SegmentedControl, Stack, Table, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertCircle, IconFilterCheck } from '@tabler/icons-react';
import { useState } from 'react';
import { errorMessage } from '../../api/errors';
import { useNarrowToken, useTokenUsage } from '../../api/token-usage';
import type { Token } from '../../api/types';
import { DateText } from '../../components/common';

const WINDOWS = [
  { value: '7d', label: '7 days' },
  { value: '30d', label: '30 days' },
  { value: '90d', label: '90 days' },
];

export function UsageModal({
  token,
  canWrite,
  onClose,
}: {
  token: Token | null;
  canWrite: boolean;
  onClose: () => void;
}) {
  const [window, setWindow] = useState('30d');
  const [confirming, setConfirming] = useState(false);
  const usage = useTokenUsage(token?.id ?? null, window);
  const narrow = useNarrowToken();
  const close = () => {
    setConfirming(false);
    narrow.reset();
    onClose();
  };
  const u = usage.data;
  const used = u ? u.scopes.filter((s) => s.count > 0).map((s) => s.permission) : [];
  const unused = u?.unused ?? [];
  const isKey = token?.kind === 'api_key';
  const revoked = token?.status === 'revoked';
  const windowLabel = WINDOWS.find((w) => w.value === window)?.label ?? window;

  return (
    <Modal
      opened={token !== null}
      onClose={close}
      title={`Permissions used by “${token?.name ?? ''}”`}
      size="lg"
      centered
    >
      <Stack gap="sm">
        <Group justify="space-between" wrap="wrap">
          <Text size="sm" id="usage-window-label">
            Requests in the last
          </Text>
          <SegmentedControl
            aria-labelledby="usage-window-label"
            data={WINDOWS}
            value={window}
            onChange={(v) => {
              setWindow(v);
              setConfirming(false);
              narrow.reset();
            }}
            size="xs"
          />
        </Group>
        {usage.error ? (
          <Alert color="red" icon={<IconAlertCircle />} role="alert">
            {errorMessage(usage.error)}
          </Alert>
        ) : !u ? (
          <Text c="dimmed" size="sm">
            Loading…
          </Text>
        ) : (
          <>
            <Text size="sm" c="dimmed" data-testid="usage-observed">
              Counted from <DateText iso={u.observed_since} />
              {u.observed_since !== u.since ? ' (when the token was created)' : ''}, by the permission each
              request needed; counts are by the hour.
            </Text>
            <Table.ScrollContainer minWidth={420}>
              <Table fz="sm" verticalSpacing={4} aria-label="Scope usage" data-testid="usage-table">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Scope</Table.Th>
                    <Table.Th ta="right">Requests</Table.Th>
                    <Table.Th>Last used</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {u.scopes.map((s) => (
                    <Table.Tr key={s.permission} data-scope={s.permission}>
                      <Table.Td ff="monospace">{s.permission}</Table.Td>
                      <Table.Td ta="right">{s.count}</Table.Td>
                      <Table.Td>
                        {s.count === 0 ? (
                          <Badge color="orange" variant="light" style={{ textTransform: 'none' }}>
                            never used
                          </Badge>
                        ) : (
                          <DateText iso={s.last_used_at} />
                        )}
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
            {isKey ? (
              <Alert color="blue" role="status">
                An API key carries all of its owner’s permissions and cannot be narrowed. To follow least
                privilege, create a token with only the scopes used above, switch the application to it, then
                delete the key.
              </Alert>
            ) : unused.length === 0 ? (
              <Text size="sm" data-testid="usage-verdict">
                Every scope of this token was used in the last {windowLabel}: nothing to remove.
              </Text>
            ) : used.length === 0 ? (
              <Text size="sm" data-testid="usage-verdict">
                No request in the last {windowLabel} needed any scope of this token. Narrowing would leave it
                no permission at all: if nothing uses it, delete it instead, or look over a longer window.
              </Text>
            ) : (
              <Text size="sm" data-testid="usage-verdict">
                {unused.length} of {u.scopes.length} scopes were not needed by any request in the last{' '}
                {windowLabel}.
              </Text>
            )}
            {narrow.error && (
              <Alert color="red" icon={<IconAlertCircle />} role="alert">
                {errorMessage(narrow.error)}
              </Alert>
            )}
            {canWrite &&
              !isKey &&
              !revoked &&
              token &&
              unused.length > 0 &&
              used.length > 0 &&
              (confirming ? (
                <Alert color="orange" title="Narrow this token?" data-testid="narrow-confirm">
                  <Stack gap="xs">
                    <Text size="sm">
                      These scopes will be removed; requests that need them are refused from the next request
                      on:
                    </Text>
                    <Group gap={4}>
                      {unused.map((s) => (
                        <Badge key={s} color="red" variant="light" style={{ textTransform: 'none' }}>
                          {s}
                        </Badge>
                      ))}
                    </Group>
                    <Text size="sm">Kept: {used.join(', ')}</Text>
                    <Group justify="flex-end" gap="sm">
                      <Button variant="default" onClick={() => setConfirming(false)}>
                        Cancel
                      </Button>
                      <Button
                        color="orange"
                        loading={narrow.isPending}
                        onClick={() =>
                          narrow.mutate(
                            { id: token.id, window },
                            {
                              onSuccess: (r) => {
                                notifications.show({
                                  color: 'green',
                                  message: `“${token.name}” narrowed: removed ${r.removed.join(', ')}`,
                                });
                                close();
                              },
                            },
                          )
                        }
                      >
                        Remove {unused.length} {unused.length === 1 ? 'scope' : 'scopes'}
                      </Button>
                    </Group>
                  </Stack>
                </Alert>
              ) : (
                <Group justify="flex-end">
                  <Button leftSection={<IconFilterCheck size={16} />} onClick={() => setConfirming(true)}>
                    Narrow to used scopes…
                  </Button>
                </Group>
              ))}
          </>
        )}
      </Stack>
    </Modal>
  );
}
