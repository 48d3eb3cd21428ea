// Small pieces every page uses: page header, dates, API error and "not available" states.
import { Alert, Badge, Group, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { IconAlertCircle, IconPlugOff } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { errorMessage, isNotAvailable } from '../api/errors';

export function PageHeader({
  title,
  description,
  actions,
}: {
  title: string;
  description?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <Group justify="space-between" align="flex-start" mb="md" wrap="wrap" gap="sm">
      <Stack gap={2}>
        <Title order={1} size="h2">
          {title}
        </Title>
        {description && (
          <Text c="dimmed" size="sm" maw={720}>
            {description}
          </Text>
        )}
      </Stack>
      {actions && <Group gap="xs">{actions}</Group>}
    </Group>
  );
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export function formatDate(iso: string | null | undefined, dateOnly = false): string {
  if (!iso) return '';
  return (dateOnly ? dayFmt : dateFmt).format(new Date(iso));
}

/** A date cell: the local date, the exact UTC time on hover. */
export function DateText({
  iso,
  empty = '—',
  dateOnly = false,
}: {
  iso: string | null | undefined;
  empty?: string;
  dateOnly?: boolean;
}) {
  if (!iso) {
    return (
      <Text span size="sm" c="dimmed">
        {empty}
      </Text>
    );
  }
  return (
    <Tooltip label={iso} openDelay={400}>
      <Text span size="sm" style={{ whiteSpace: 'nowrap' }}>
        {formatDate(iso, dateOnly)}
      </Text>
    </Tooltip>
  );
}

export function ErrorState({ error, what }: { error: unknown; what: string }) {
  if (isNotAvailable(error)) return <NotAvailable what={what} />;
  return (
    <Alert color="red" icon={<IconAlertCircle />} title={`Could not load ${what}`} role="alert">
      {errorMessage(error)}
    </Alert>
  );
}

export function NotAvailable({ what }: { what: string }) {
  return (
    <Alert color="gray" icon={<IconPlugOff />} title="Not available on this manager" role="status">
      This manager does not offer {what} (the API answered that the route does not exist). Upgrade the manager
      or enable the module to use this page.
    </Alert>
  );
}

const STATUS_COLORS: Record<string, string> = {
  active: 'green',
  enabled: 'green',
  done: 'green',
  online: 'green',
  success: 'green',
  running: 'blue',
  info: 'blue',
  warning: 'orange',
  disabled: 'gray',
  revoked: 'gray',
  no_configuration_group: 'gray',
  unsupported: 'gray',
  expired: 'red',
  error: 'red',
  failure: 'red',
  denied: 'orange',
  mismatch: 'orange',
  pending: 'blue',
  changes_awaiting_apply: 'yellow',
  offline: 'red',
};

export function StatusBadge({ status, label }: { status: string; label?: string }) {
  const color = STATUS_COLORS[status] ?? 'gray';
  return (
    <Badge
      color={color}
      variant="light"
      // The light variant writes its colour on its own tint: green, orange and yellow fall below
      // WCAG AA even at Mantine's darkest shade (axe-core: color-contrast, serious). The tint keeps
      // the colour; the words are in the page's text colour, which reads on every tint.
      style={{
        textTransform: 'none',
        minWidth: 'max-content',
        color: 'var(--mantine-color-text)',
      }}
    >
      {label ?? status.replaceAll('_', ' ')}
    </Badge>
  );
}

/** The one row a table shows when it has no rows: loading, or why it is empty. */
export function EmptyTableRow({ colSpan, children }: { colSpan: number; children: ReactNode }) {
  return (
    <Table.Tr>
      <Table.Td colSpan={colSpan}>
        <Text c="dimmed" ta="center" py="lg" size="sm">
          {children}
        </Text>
      </Table.Td>
    </Table.Tr>
  );
}

/** A small dimmed label over its value, as the phone cards of the lists show each field. */
export function Labelled({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      {children}
    </div>
  );
}
