// The appliance list an admin works with: search (`/` focuses it), filters, sortable columns and
// pages, all in the URL; bulk actions with a result per appliance; cards on a phone; and, while the
// fleet is empty, the `steward agent` command that enrolls an appliance with this manager.
import {
  ActionIcon,
  Alert,
  Button,
  Checkbox,
  Group,
  Kbd,
  Modal,
  MultiSelect,
  Pagination,
  Paper,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  Tooltip,
  VisuallyHidden,
} from '@mantine/core';
import { useDebouncedCallback, useHotkeys, useMediaQuery } from '@mantine/hooks';
import { IconAlertCircle, IconPlus, IconSearch, IconShieldCheck } from '@tabler/icons-react';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { APPLIANCE_TYPES } from '../../../contract/fleet-fields';
import { fieldError, formErrorMessage } from '../../api/errors';
import { useAddAppliance, useApplianceList, useConfigGroups } from '../../api/fleet';
import type { Appliance } from '../../api/types';
import { DateText, EmptyTableRow, ErrorState, PageHeader, StatusBadge } from '../../components/common';
import { ExportMenu } from '../../components/export-menu';
import { useSession } from '../auth/session';
import { AgentCommand } from './agent-command';
import { ApplianceCard, GroupCell, NameCell, SortableTh, StateCell, TYPE_LABELS } from './appliance-parts';
import { AuthorizeModal } from './authorize-modal';
import { BulkBar } from './bulk-actions';
import { PAGE_SIZES, STATE_LABELS, STATES, useListView } from './list-state';

function AddApplianceModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const add = useAddAppliance();
  const [v, setV] = useState({ name: '', type: 'tiscale-worker', url: '' });
  const err = add.error;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate(
      { name: v.name.trim(), type: v.type, url: v.url.trim() },
      {
        onSuccess: () => {
          setV({ name: '', type: 'tiscale-worker', url: '' });
          add.reset();
          onClose();
        },
      },
    );
  };
  return (
    <Modal opened={opened} onClose={onClose} title="Add appliance" centered>
      <form onSubmit={submit} noValidate>
        <Stack gap="sm">
          {err && (
            <Alert color="red" icon={<IconAlertCircle />} role="alert">
              {formErrorMessage(err)}
            </Alert>
          )}
          <TextInput
            label="Name"
            required
            data-autofocus
            description="Letters, digits, dot, dash, underscore"
            value={v.name}
            onChange={(e) => setV({ ...v, name: e.currentTarget.value })}
            error={fieldError(err, 'name')}
          />
          <Select
            label="Type"
            data={[...APPLIANCE_TYPES]}
            value={v.type}
            onChange={(t) => setV({ ...v, type: t ?? v.type })}
            allowDeselect={false}
            error={fieldError(err, 'type')}
          />
          <TextInput
            label="Agent URL"
            required
            placeholder="https://appliance.example:8443"
            value={v.url}
            onChange={(e) => setV({ ...v, url: e.currentTarget.value })}
            error={fieldError(err, 'url')}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={add.isPending}>
              Add appliance
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

export { OnlineBadge } from './appliance-parts';
export { AuthorizeModal, pairs } from './authorize-modal';

/** The table's sortable columns, in order: the `ordering` field and the header. */
const SORTABLE_COLUMNS = [
  ['name', 'Name'],
  ['type', 'Type'],
  ['state', 'State'],
  ['release', 'Release'],
  ['group_name', 'Group'],
  ['configuration_status', 'Configuration'],
  ['last_seen_online', 'Last seen'],
] as const;

const CONFIG_STATUSES = [
  'done',
  'pending',
  'changes_awaiting_apply',
  'error',
  'mismatch',
  'unsupported',
  'no_configuration_group',
];

function SearchBox({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  const ref = useRef<HTMLInputElement>(null);
  const [text, setText] = useState(value);
  // The URL follows the box once typing pauses (one history entry, replaced, not one per key).
  const write = useDebouncedCallback(onChange, 300);
  // Back/forward (or a link) changes the URL: show its search.
  useEffect(() => setText(value), [value]);
  // `/` focuses the search from anywhere on the page, unless the user is typing in a field.
  useHotkeys([['/', () => ref.current?.focus()]]);
  return (
    <TextInput
      ref={ref}
      label="Search"
      aria-label="Search appliances"
      placeholder="Name, URL or host name"
      leftSection={<IconSearch size={16} />}
      rightSection={<Kbd size="xs">/</Kbd>}
      rightSectionPointerEvents="none"
      value={text}
      onChange={(e) => {
        setText(e.currentTarget.value);
        write(e.currentTarget.value);
      }}
      w={{ base: '100%', sm: 250 }}
    />
  );
}

export function AppliancesPage() {
  const { can } = useSession();
  const { view, query, update, toggleSort, clearFilters } = useListView();
  const list = useApplianceList(query);
  // The export takes the view's filters and order, not its page: every matching appliance.
  const { page: _page, page_size: _size, ...exportFilters } = query;
  const groups = useConfigGroups();
  const [adding, setAdding] = useState(false);
  const [authorizing, setAuthorizing] = useState<Appliance | null>(null);
  const [selected, setSelected] = useState<Map<number, Appliance>>(new Map());
  const narrow = useMediaQuery('(max-width: 48em)');
  const canWrite = can('appliances:write');
  const canConfigure = can('configuration:write');
  const selectable = canWrite || canConfigure;
  const rows = list.data?.results ?? [];
  const count = list.data?.count ?? 0;
  const pages = Math.max(1, Math.ceil(count / view.pageSize));

  const select = (a: Appliance, on: boolean) =>
    setSelected((prev) => {
      const next = new Map(prev);
      if (on) next.set(a.id, a);
      else next.delete(a.id);
      return next;
    });
  const allOnPage = rows.length > 0 && rows.every((a) => selected.has(a.id));
  const someOnPage = rows.some((a) => selected.has(a.id));
  const selectPage = (on: boolean) =>
    setSelected((prev) => {
      const next = new Map(prev);
      for (const a of rows) {
        if (on) next.set(a.id, a);
        else next.delete(a.id);
      }
      return next;
    });
  // What is selected, as the list shows it now (a refetch may have changed its state).
  const selectedNow = [...selected.values()].map((a) => rows.find((r) => r.id === a.id) ?? a);

  const empty = !list.isPending && count === 0;
  const fleetEmpty = empty && !view.filtered;

  const rowActions = (a: Appliance) =>
    canWrite && !a.authorized ? (
      <Tooltip label="Authorize">
        <ActionIcon variant="light" aria-label={`Authorize ${a.name}`} onClick={() => setAuthorizing(a)}>
          <IconShieldCheck size={18} />
        </ActionIcon>
      </Tooltip>
    ) : null;

  return (
    <>
      <PageHeader
        title="Appliances"
        description="Every appliance this manager runs. Start the agent on an appliance, add it here with its agent URL, then authorize it."
        actions={
          !list.error && (
            <Group gap="xs">
              <ExportMenu path="/api/v1/appliances/export/" filters={exportFilters} what="appliances" />
              {canWrite && (
                <Button leftSection={<IconPlus size={16} />} onClick={() => setAdding(true)}>
                  Add appliance
                </Button>
              )}
            </Group>
          )
        }
      />
      {list.error ? (
        <ErrorState error={list.error} what="appliances" />
      ) : (
        <Stack gap="sm">
          <Group gap="xs" align="flex-end" wrap="wrap">
            <SearchBox value={view.search} onChange={(v) => update({ search: v }, true)} />
            <MultiSelect
              label="State"
              placeholder={view.states.length ? undefined : 'Any state'}
              data={STATES.map((s) => ({ value: s, label: STATE_LABELS[s] }))}
              value={view.states}
              onChange={(v) => update({ state: v.join(',') })}
              clearable
              w={{ base: 'calc(50% - var(--mantine-spacing-xs) / 2)', sm: 200 }}
            />
            <Select
              label="Type"
              placeholder="Any type"
              data={Object.entries(TYPE_LABELS).map(([value, label]) => ({ value, label }))}
              value={view.type}
              onChange={(v) => update({ type: v })}
              clearable
              w={{ base: 'calc(50% - var(--mantine-spacing-xs) / 2)', sm: 150 }}
            />
            <Select
              label="Group"
              placeholder="Any group"
              data={[
                ...new Set([
                  ...(groups.data?.results ?? []).map((g) => g.name),
                  ...(view.group ? [view.group] : []),
                ]),
              ]}
              value={view.group}
              onChange={(v) => update({ group_name: v })}
              clearable
              searchable
              w={{ base: 'calc(50% - var(--mantine-spacing-xs) / 2)', sm: 150 }}
            />
            <Select
              label="Configuration status"
              placeholder="Any configuration"
              data={CONFIG_STATUSES.map((s) => ({ value: s, label: s.replaceAll('_', ' ') }))}
              value={view.config}
              onChange={(v) => update({ configuration_status: v })}
              clearable
              w={{ base: 'calc(50% - var(--mantine-spacing-xs) / 2)', sm: 190 }}
            />
            {view.filtered && (
              <Button variant="subtle" size="sm" onClick={clearFilters}>
                Clear filters
              </Button>
            )}
          </Group>

          {selectable && (
            <BulkBar
              selected={selectedNow}
              canWrite={canWrite}
              canConfigure={canConfigure}
              onDone={(refused) =>
                setSelected((prev) => new Map([...prev].filter(([id]) => refused.includes(id))))
              }
            />
          )}

          {fleetEmpty ? (
            <Paper withBorder p="lg" radius="md" data-testid="appliances-empty">
              <Stack gap="sm">
                <Title order={2} size="h4">
                  No appliances yet
                </Title>
                <Text size="sm">
                  Start the Steward agent on an appliance with the command below; it pairs with this manager
                  only. Then add it here with its agent URL and authorize it.
                </Text>
                <AgentCommand />
              </Stack>
            </Paper>
          ) : narrow ? (
            <Stack gap="xs" data-testid="appliance-cards">
              {selectable && rows.length > 0 && (
                <Checkbox
                  label="Select all on this page"
                  checked={allOnPage}
                  indeterminate={someOnPage && !allOnPage}
                  onChange={(e) => selectPage(e.currentTarget.checked)}
                />
              )}
              {rows.map((a) => (
                <ApplianceCard
                  key={a.id}
                  a={a}
                  selectable={selectable}
                  selected={selected.has(a.id)}
                  onSelect={(on) => select(a, on)}
                  actions={rowActions(a)}
                />
              ))}
              {rows.length === 0 && (
                <Text c="dimmed" ta="center" py="lg" size="sm">
                  {list.isPending ? 'Loading…' : 'No appliance matches these filters.'}
                </Text>
              )}
            </Stack>
          ) : (
            <Table.ScrollContainer minWidth={940}>
              <Table
                verticalSpacing="xs"
                highlightOnHover
                aria-label="Appliances"
                data-testid="appliances-table"
              >
                <Table.Thead>
                  <Table.Tr>
                    {selectable && (
                      <Table.Th w={36}>
                        <Checkbox
                          aria-label="Select all on this page"
                          checked={allOnPage}
                          indeterminate={someOnPage && !allOnPage}
                          onChange={(e) => selectPage(e.currentTarget.checked)}
                        />
                      </Table.Th>
                    )}
                    {SORTABLE_COLUMNS.map(([field, label]) => (
                      <SortableTh key={field} field={field} sort={view.sort} onSort={toggleSort}>
                        {label}
                      </SortableTh>
                    ))}
                    <Table.Th w={44}>
                      <VisuallyHidden>Actions</VisuallyHidden>
                    </Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {rows.map((a) => (
                    <Table.Tr
                      key={a.id}
                      data-appliance={a.name}
                      bg={selected.has(a.id) ? 'var(--mantine-primary-color-light)' : undefined}
                    >
                      {selectable && (
                        <Table.Td>
                          <Checkbox
                            aria-label={`Select ${a.name}`}
                            checked={selected.has(a.id)}
                            onChange={(e) => select(a, e.currentTarget.checked)}
                          />
                        </Table.Td>
                      )}
                      <Table.Td style={{ minWidth: 160 }}>
                        <NameCell a={a} />
                      </Table.Td>
                      <Table.Td style={{ whiteSpace: 'nowrap' }}>{TYPE_LABELS[a.type] ?? a.type}</Table.Td>
                      <Table.Td>
                        <StateCell a={a} />
                      </Table.Td>
                      <Table.Td>{a.release ?? '—'}</Table.Td>
                      <Table.Td>
                        <GroupCell a={a} />
                      </Table.Td>
                      <Table.Td>
                        <StatusBadge status={a.configuration_status} />
                      </Table.Td>
                      <Table.Td>
                        <DateText iso={a.last_seen_online} empty="Never" />
                      </Table.Td>
                      <Table.Td>{rowActions(a)}</Table.Td>
                    </Table.Tr>
                  ))}
                  {rows.length === 0 && (
                    <EmptyTableRow colSpan={selectable ? 9 : 8}>
                      {list.isPending ? 'Loading…' : 'No appliance matches these filters.'}
                    </EmptyTableRow>
                  )}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}

          {!fleetEmpty && count > 0 && (
            <Group justify="space-between" wrap="wrap" gap="xs">
              <Text size="sm" c="dimmed" role="status" data-testid="appliances-range">
                {(view.page - 1) * view.pageSize + 1}–{Math.min(count, view.page * view.pageSize)} of {count}
              </Text>
              <Group gap="xs" wrap="wrap">
                <Pagination
                  total={pages}
                  value={Math.min(view.page, pages)}
                  onChange={(p) => update({ page: String(p) })}
                  size="sm"
                  getControlProps={(control) => ({
                    'aria-label':
                      control === 'previous' ? 'Previous page' : control === 'next' ? 'Next page' : control,
                  })}
                  getItemProps={(p) => ({ 'aria-label': `Page ${p}` })}
                />
                <Select
                  aria-label="Appliances per page"
                  data={[...new Set([...PAGE_SIZES, String(view.pageSize)])]
                    .sort((x, y) => Number(x) - Number(y))
                    .map((n) => ({ value: n, label: `${n} per page` }))}
                  value={String(view.pageSize)}
                  onChange={(v) => update({ page_size: v === '20' ? null : v })}
                  allowDeselect={false}
                  w={130}
                  size="xs"
                />
              </Group>
            </Group>
          )}
        </Stack>
      )}
      <AddApplianceModal opened={adding} onClose={() => setAdding(false)} />
      <AuthorizeModal appliance={authorizing} onClose={() => setAuthorizing(null)} />
    </>
  );
}
