// The API tokens page: the Cyber Vision token table, plus scopes, last use and the rest.
import {
  Alert,
  Button,
  Code,
  Group,
  Stack,
  Table,
  Text,
  TextInput,
  Tooltip,
  VisuallyHidden,
} from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { IconInfoCircle, IconPlus, IconSearch, IconSettings } from '@tabler/icons-react';
import { useState } from 'react';
import { Link } from 'react-router';
import { ApiError } from '../../api/errors';
import { useTokenSettings, useTokens } from '../../api/identity';
import type { Token, TokenWithSecret } from '../../api/types';
import { DateText, EmptyTableRow, ErrorState, PageHeader, StatusBadge } from '../../components/common';
import { ExportMenu } from '../../components/export-menu';
import { useSession } from '../auth/session';
import { SecretModal } from './secret-modal';
import { ActivityModal, DeleteModal, RefreshModal } from './token-dialogs';
import { TokenFormModal } from './token-form';
import {
  EnabledToggle,
  ExpiryCell,
  expiryState,
  type Handlers,
  Scopes,
  TokenActions,
  TokenCard,
} from './token-parts';
import { UsageModal } from './token-usage';

export function TokensPage() {
  const { isAdmin, can } = useSession();
  const tokens = useTokens();
  const settings = useTokenSettings();
  const [search, setSearch] = useState('');
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Token | null>(null);
  const [refreshing, setRefreshing] = useState<Token | null>(null);
  const [deleting, setDeleting] = useState<Token | null>(null);
  const [watching, setWatching] = useState<Token | null>(null);
  const [auditing, setAuditing] = useState<Token | null>(null);
  const [secret, setSecret] = useState<TokenWithSecret | null>(null);
  const canWrite = can('tokens:write');
  const narrow = useMediaQuery('(max-width: 48em)');
  const handlers: Handlers = {
    edit: setEditing,
    refresh: setRefreshing,
    remove: setDeleting,
    watch: setWatching,
    usage: setAuditing,
  };

  const forbidden = tokens.error instanceof ApiError && tokens.error.status === 403;
  const q = search.trim().toLowerCase();
  const rows = (tokens.data?.results ?? []).filter(
    (t) =>
      !q ||
      t.name.toLowerCase().includes(q) ||
      (t.owner_username ?? '').toLowerCase().includes(q) ||
      t.token_hint.toLowerCase().includes(q),
  );

  return (
    <>
      <PageHeader
        title="API tokens"
        description={
          <>
            Tokens let scripts, SIEM and SOAR tools use the management API. Best practice: one token per
            application, so each can be disabled, expired or removed on its own.{' '}
            {isAdmin ? 'As an admin you see every user’s tokens.' : 'You see your own tokens.'}
          </>
        }
        actions={
          <>
            {isAdmin && (
              <Button
                component={Link}
                to="/settings/api_tokens"
                variant="default"
                leftSection={<IconSettings size={16} />}
              >
                Token settings
              </Button>
            )}
            {!tokens.error && (
              <ExportMenu
                path="/api/v1/tokens/export/"
                // The server's search matches name and description (the box here also matches owner and hint).
                filters={{ ordering: 'name', ...(search.trim() ? { search: search.trim() } : {}) }}
                what="API tokens"
              />
            )}
            {canWrite && !forbidden && (
              <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)}>
                New token
              </Button>
            )}
          </>
        }
      />
      {forbidden ? (
        <Alert
          color="blue"
          icon={<IconInfoCircle />}
          title="API tokens are managed by administrators"
          role="status"
        >
          User-defined API tokens are turned off on this manager. Ask an administrator to create a token for
          you, or to enable user-defined tokens in the token settings.
        </Alert>
      ) : tokens.error ? (
        <ErrorState error={tokens.error} what="API tokens" />
      ) : (
        <Stack gap="sm">
          {!isAdmin && (!canWrite || settings.data?.user_defined_tokens === false) && (
            <Alert color="blue" icon={<IconInfoCircle />} role="status" data-testid="tokens-admin-managed">
              {settings.data?.user_defined_tokens === false
                ? 'User-defined API tokens are turned off on this manager: an administrator creates tokens for you.'
                : 'Your role can see your tokens but not create them: ask an administrator for a token.'}{' '}
              Each token you own is listed here so you can check when it was last used and when it expires.
            </Alert>
          )}
          <TextInput
            aria-label="Search tokens"
            placeholder="Search by name, owner or token"
            leftSection={<IconSearch size={16} />}
            value={search}
            onChange={(e) => setSearch(e.currentTarget.value)}
            maw={360}
          />
          {narrow ? (
            <Stack gap="xs" data-testid="tokens-cards">
              {rows.map((t) => (
                <TokenCard key={t.id} token={t} canWrite={canWrite} showOwner={isAdmin} on={handlers} />
              ))}
              {rows.length === 0 && (
                <Text c="dimmed" ta="center" py="lg" size="sm">
                  {tokens.isPending ? 'Loading…' : 'No tokens yet.'}
                </Text>
              )}
            </Stack>
          ) : (
            <Table.ScrollContainer minWidth={980}>
              <Table verticalSpacing="xs" highlightOnHover aria-label="API tokens" data-testid="tokens-table">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Name</Table.Th>
                    <Table.Th>Token</Table.Th>
                    <Table.Th>Status</Table.Th>
                    <Table.Th>Scopes</Table.Th>
                    <Table.Th>Created</Table.Th>
                    <Table.Th>Expires</Table.Th>
                    <Table.Th>Last used</Table.Th>
                    <Table.Th>
                      <VisuallyHidden>Actions</VisuallyHidden>
                    </Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {rows.map((t) => {
                    const exp = expiryState(t);
                    return (
                      <Table.Tr
                        key={t.id}
                        data-token-id={t.id}
                        bg={
                          exp === 'expired'
                            ? 'var(--mantine-color-red-light)'
                            : exp === 'soon'
                              ? 'var(--mantine-color-orange-light)'
                              : undefined
                        }
                      >
                        <Table.Td>
                          <Text size="sm" fw={600} style={{ whiteSpace: 'nowrap' }}>
                            {t.name}
                          </Text>
                          <Text size="xs" c="dimmed" maw={260}>
                            {[
                              t.kind === 'api_key' ? 'API key' : null,
                              isAdmin ? `owner ${t.owner_username ?? t.owner_id}` : null,
                              t.description || null,
                            ]
                              .filter(Boolean)
                              .join(' · ')}
                          </Text>
                        </Table.Td>
                        <Table.Td>
                          <Tooltip label="Hidden: only the prefix and the last four characters are kept for display">
                            <Code style={{ whiteSpace: 'nowrap' }}>{t.token_hint}</Code>
                          </Tooltip>
                        </Table.Td>
                        <Table.Td>
                          <Group gap="xs" wrap="nowrap">
                            <EnabledToggle token={t} canWrite={canWrite} />
                            <StatusBadge status={t.status} />
                          </Group>
                        </Table.Td>
                        <Table.Td>
                          <Scopes scopes={t.scopes} />
                        </Table.Td>
                        <Table.Td>
                          <DateText iso={t.created_at} dateOnly />
                        </Table.Td>
                        <Table.Td>
                          <ExpiryCell token={t} />
                        </Table.Td>
                        <Table.Td>
                          <DateText iso={t.last_used_at} empty="Never" />
                          {t.last_used_ip && (
                            <Text size="xs" c="dimmed">
                              from {t.last_used_ip}
                            </Text>
                          )}
                        </Table.Td>
                        <Table.Td>
                          <TokenActions token={t} canWrite={canWrite} on={handlers} />
                        </Table.Td>
                      </Table.Tr>
                    );
                  })}
                  {rows.length === 0 && (
                    <EmptyTableRow colSpan={8}>
                      {tokens.isPending
                        ? 'Loading…'
                        : q
                          ? 'No token matches the search.'
                          : canWrite
                            ? 'No tokens yet. Create one per application.'
                            : 'You own no tokens.'}
                    </EmptyTableRow>
                  )}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
          {tokens.data && tokens.data.count > tokens.data.results.length && (
            <Text size="xs" c="dimmed">
              Showing {tokens.data.results.length} of {tokens.data.count} tokens.
            </Text>
          )}
        </Stack>
      )}
      <TokenFormModal
        opened={creating}
        onClose={() => setCreating(false)}
        settings={settings.data}
        onCreated={setSecret}
      />
      <TokenFormModal
        opened={editing !== null}
        onClose={() => setEditing(null)}
        token={editing ?? undefined}
        settings={settings.data}
        onCreated={setSecret}
      />
      <RefreshModal token={refreshing} onClose={() => setRefreshing(null)} onRefreshed={setSecret} />
      <DeleteModal token={deleting} onClose={() => setDeleting(null)} />
      <ActivityModal token={watching} onClose={() => setWatching(null)} />
      <UsageModal token={auditing} canWrite={canWrite} onClose={() => setAuditing(null)} />
      <SecretModal token={secret} onClose={() => setSecret(null)} />
    </>
  );
}
