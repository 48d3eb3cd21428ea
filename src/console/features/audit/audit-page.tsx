// The audit log: filters, and infinite scroll over the keyset cursor.
import {
  Badge,
  Button,
  Code,
  Group,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Tooltip,
} from '@mantine/core';
import { useDebouncedValue, useIntersection } from '@mantine/hooks';
import { IconFilterOff } from '@tabler/icons-react';
import { Fragment, useEffect, useState } from 'react';
import { useAuditLog } from '../../api/audit';
import { fieldError } from '../../api/errors';
import type { AuditEntry, AuditFilters } from '../../api/types';
import { DateText, EmptyTableRow, ErrorState, PageHeader, StatusBadge } from '../../components/common';
import { ExportMenu } from '../../components/export-menu';

const EMPTY = { username: '', action: '', target_type: '', target_id: '', outcome: '', since: '', until: '' };

function toQuery(f: typeof EMPTY): AuditFilters {
  const q: AuditFilters = {};
  if (f.username.trim()) q.username = f.username.trim();
  if (f.action.trim()) q.action = f.action.trim();
  if (f.target_type.trim()) q.target_type = f.target_type.trim();
  if (f.target_id.trim()) q.target_id = f.target_id.trim();
  if (f.outcome) q.outcome = f.outcome as AuditFilters['outcome'];
  // datetime-local is local time; the API wants UTC.
  if (f.since) q.since = new Date(f.since).toISOString();
  if (f.until) q.until = new Date(f.until).toISOString();
  return q;
}

function Row({ e }: { e: AuditEntry }) {
  const [open, setOpen] = useState(false);
  const hasDetails = Object.keys(e.details ?? {}).length > 0;
  return (
    <Fragment>
      <Table.Tr>
        <Table.Td>
          <DateText iso={e.at} />
        </Table.Td>
        <Table.Td>
          <Code>{e.action}</Code>
        </Table.Td>
        <Table.Td>
          <StatusBadge status={e.outcome} />
        </Table.Td>
        <Table.Td>
          <Text size="sm">{e.username ?? '—'}</Text>
          <Text size="xs" c="dimmed">
            {[e.auth_method, e.token_id ? `token #${e.token_id}` : null].filter(Boolean).join(' · ')}
          </Text>
        </Table.Td>
        <Table.Td>
          {e.target_type ? `${e.target_type}${e.target_id ? ` #${e.target_id}` : ''}` : '—'}
        </Table.Td>
        <Table.Td>
          <Text size="sm">{e.summary}</Text>
          {hasDetails && (
            <Button
              variant="subtle"
              size="compact-xs"
              onClick={() => setOpen((o) => !o)}
              aria-expanded={open}
            >
              {open ? 'Hide details' : 'Details'}
            </Button>
          )}
        </Table.Td>
        <Table.Td>
          <Tooltip label={e.user_agent ?? ''} disabled={!e.user_agent}>
            <Text size="sm" span>
              {e.ip ?? '—'}
            </Text>
          </Tooltip>
        </Table.Td>
      </Table.Tr>
      {open && (
        <Table.Tr>
          <Table.Td colSpan={7}>
            <Code block>
              {JSON.stringify(
                {
                  ...e.details,
                  request: `${e.method ?? ''} ${e.path ?? ''} → ${e.status ?? ''}`,
                  request_id: e.request_id,
                },
                null,
                2,
              )}
            </Code>
          </Table.Td>
        </Table.Tr>
      )}
    </Fragment>
  );
}

export function AuditPage() {
  const [form, setForm] = useState(EMPTY);
  const [debounced] = useDebouncedValue(form, 400);
  const query = toQuery(debounced);
  const log = useAuditLog(query);
  const { ref, entry } = useIntersection({ threshold: 0 });
  const set = (k: keyof typeof EMPTY, v: string) => setForm((f) => ({ ...f, [k]: v }));

  const { hasNextPage, isFetchingNextPage, fetchNextPage } = log;
  useEffect(() => {
    if (entry?.isIntersecting && hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [entry?.isIntersecting, hasNextPage, isFetchingNextPage, fetchNextPage]);

  const rows = log.data?.pages.flatMap((p) => p.results) ?? [];
  const total = log.data?.pages[0]?.count;
  const err = log.error;

  return (
    <>
      <PageHeader
        title="Audit log"
        description="Every sign-in, change and refused request, newest first. Scroll to load older entries."
        actions={<ExportMenu path="/api/v1/audit/export/" filters={query} what="audit log" />}
      />
      <Stack gap="sm">
        <SimpleGrid cols={{ base: 1, xs: 2, md: 4, lg: 7 }} spacing="xs">
          <TextInput
            label="User"
            placeholder="admin"
            value={form.username}
            onChange={(e) => set('username', e.currentTarget.value)}
            error={fieldError(err, 'username')}
          />
          <TextInput
            label="Action"
            placeholder="token.created"
            value={form.action}
            onChange={(e) => set('action', e.currentTarget.value)}
            error={fieldError(err, 'action')}
          />
          <TextInput
            label="Target type"
            placeholder="token"
            value={form.target_type}
            onChange={(e) => set('target_type', e.currentTarget.value)}
            error={fieldError(err, 'target_type')}
          />
          <TextInput
            label="Target id"
            value={form.target_id}
            onChange={(e) => set('target_id', e.currentTarget.value)}
            error={fieldError(err, 'target_id')}
          />
          <Select
            label="Outcome"
            placeholder="Any"
            clearable
            data={['success', 'failure', 'denied']}
            value={form.outcome || null}
            onChange={(v) => set('outcome', v ?? '')}
          />
          <TextInput
            type="datetime-local"
            label="From"
            value={form.since}
            onChange={(e) => set('since', e.currentTarget.value)}
            error={fieldError(err, 'since')}
          />
          <TextInput
            type="datetime-local"
            label="Until"
            value={form.until}
            onChange={(e) => set('until', e.currentTarget.value)}
            error={fieldError(err, 'until')}
          />
        </SimpleGrid>
        <Group justify="space-between">
          <Text size="sm" c="dimmed" aria-live="polite">
            {total !== undefined ? `${total} entr${total === 1 ? 'y' : 'ies'}` : ''}
          </Text>
          <Button
            variant="subtle"
            size="compact-sm"
            leftSection={<IconFilterOff size={14} />}
            onClick={() => setForm(EMPTY)}
          >
            Clear filters
          </Button>
        </Group>
        {err && !fieldError(err, 'since') && !fieldError(err, 'until') ? (
          <ErrorState error={err} what="the audit log" />
        ) : (
          <Table.ScrollContainer minWidth={1000}>
            <Table verticalSpacing={6} aria-label="Audit log" data-testid="audit-table" stickyHeader>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>When</Table.Th>
                  <Table.Th>Action</Table.Th>
                  <Table.Th>Outcome</Table.Th>
                  <Table.Th>Who</Table.Th>
                  <Table.Th>Target</Table.Th>
                  <Table.Th>Summary</Table.Th>
                  <Table.Th>IP</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {rows.map((e) => (
                  <Row key={e.id} e={e} />
                ))}
                {rows.length === 0 && (
                  <EmptyTableRow colSpan={7}>
                    {log.isPending ? 'Loading…' : 'No entries match these filters.'}
                  </EmptyTableRow>
                )}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        <div ref={ref} style={{ height: 1 }} />
        {hasNextPage && (
          <Group justify="center">
            <Button variant="default" onClick={() => fetchNextPage()} loading={isFetchingNextPage}>
              Load older entries
            </Button>
          </Group>
        )}
        {!hasNextPage && rows.length > 0 && (
          <Badge variant="light" color="gray" mx="auto">
            Beginning of the log
          </Badge>
        )}
      </Stack>
    </>
  );
}
