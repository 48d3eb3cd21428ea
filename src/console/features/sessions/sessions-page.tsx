// The signed-in user's own sessions, each of which can be ended from here.
import { Badge, Button, Table, Text, Tooltip, VisuallyHidden } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconLock, IconLogout } from '@tabler/icons-react';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { errorMessage } from '../../api/errors';
import { useEndSession, useSessions, useSignOut } from '../../api/identity';
import type { Session } from '../../api/types';
import { DateText, ErrorState, PageHeader } from '../../components/common';
import { useSession } from '../auth/session';
import { PasswordModal } from '../users/user-dialogs';

function browserOf(ua: string | null): string {
  if (!ua) return 'Unknown client';
  const m = /(Firefox|Edg|Chrome|Chromium|Safari|curl|python-requests|node)[/ ]([\d.]+)/.exec(ua);
  return m ? `${m[1] === 'Edg' ? 'Edge' : m[1]} ${m[2]?.split('.')[0] ?? ''}` : ua.slice(0, 40);
}

export function SessionsPage() {
  const { me } = useSession();
  const sessions = useSessions();
  const end = useEndSession();
  const signOut = useSignOut();
  const navigate = useNavigate();
  const [pw, setPw] = useState(false);

  const endSession = (s: Session) => {
    if (s.current) {
      signOut.mutate(undefined, { onSettled: () => navigate('/sign-in', { replace: true }) });
      return;
    }
    end.mutate(s.id, {
      onError: (err) =>
        notifications.show({ color: 'red', title: 'Could not end the session', message: errorMessage(err) }),
    });
  };

  return (
    <>
      <PageHeader
        title="Sessions"
        description="Where you are signed in. End a session you do not recognise, then change your password."
        actions={
          me && !me.user.api_only ? (
            <Button variant="default" leftSection={<IconLock size={16} />} onClick={() => setPw(true)}>
              Change my password
            </Button>
          ) : null
        }
      />
      {sessions.error ? (
        <ErrorState error={sessions.error} what="sessions" />
      ) : (
        <Table.ScrollContainer minWidth={760}>
          <Table verticalSpacing="xs" aria-label="Sessions" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Client</Table.Th>
                <Table.Th>IP address</Table.Th>
                <Table.Th>Signed in</Table.Th>
                <Table.Th>Last seen</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {(sessions.data ?? []).map((s) => (
                <Table.Tr key={s.id}>
                  <Table.Td>
                    <Tooltip label={s.user_agent ?? 'unknown'} multiline maw={420}>
                      <Text size="sm" span tabIndex={0}>
                        {browserOf(s.user_agent)}
                      </Text>
                    </Tooltip>{' '}
                    {s.current && (
                      <Badge size="xs" color="green" variant="light">
                        this session
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>{s.ip ?? '—'}</Table.Td>
                  <Table.Td>
                    <DateText iso={s.created_at} />
                  </Table.Td>
                  <Table.Td>
                    <DateText iso={s.last_seen_at} />
                  </Table.Td>
                  <Table.Td>
                    <DateText iso={s.expires_at} />
                  </Table.Td>
                  <Table.Td ta="right">
                    <Button
                      size="compact-sm"
                      variant="light"
                      color="red"
                      leftSection={<IconLogout size={14} />}
                      onClick={() => endSession(s)}
                      loading={end.isPending && end.variables === s.id}
                      aria-label={
                        s.current
                          ? 'End this session (sign out)'
                          : `End session from ${s.ip ?? 'unknown address'}`
                      }
                    >
                      {s.current ? 'Sign out' : 'End'}
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <PasswordModal user={pw && me ? me.user : null} self onClose={() => setPw(false)} />
    </>
  );
}
