// An "Export" menu for a list page: CSV (for spreadsheets) or JSON (for scripts) of every row the
// page's filters match, not only the rows loaded on screen. Each item is a plain download link
// (see api/exports.ts), so a large export streams from the manager straight to disk.
import { Button, Menu, Text } from '@mantine/core';
import { IconChevronDown, IconDownload, IconFileSpreadsheet, IconJson } from '@tabler/icons-react';
import { type ExportFilters, type ExportPath, exportHref } from '../api/exports';

export function ExportMenu<P extends ExportPath>({
  path,
  filters,
  what,
}: {
  path: P;
  /** The page's current filters, as the list takes them. */
  filters: ExportFilters<P>;
  /** What is exported, for the button's accessible name ("Export audit log"). */
  what: string;
}) {
  return (
    // No focus placeholder: Mantine's is a role=presentation child, which a role=menu may not have.
    <Menu position="bottom-end" shadow="md" width={260} withInitialFocusPlaceholder={false}>
      <Menu.Target>
        <Button
          variant="default"
          leftSection={<IconDownload size={16} />}
          rightSection={<IconChevronDown size={14} />}
          aria-label={`Export ${what}`}
        >
          Export
        </Button>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>Every entry matching the filters</Menu.Label>
        <Menu.Item
          component="a"
          href={exportHref(path, filters, 'csv')}
          download
          leftSection={<IconFileSpreadsheet size={16} />}
        >
          CSV
          <Text size="xs" c="dimmed">
            For spreadsheets
          </Text>
        </Menu.Item>
        <Menu.Item
          component="a"
          href={exportHref(path, filters, 'json')}
          download
          leftSection={<IconJson size={16} />}
        >
          JSON
          <Text size="xs" c="dimmed">
            For scripts
          </Text>
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}
