// Ctrl+K (⌘K on a Mac) anywhere in the console: type to jump to any page you may open, or to an
// appliance by name (the manager searches, so a fleet of thousands works). Keyboard only: arrows
// to choose, Enter to go, Escape to close. Built on Mantine's Spotlight.
import { Group, Kbd, Text, UnstyledButton, VisuallyHidden } from '@mantine/core';
import { useDebouncedValue, useOs } from '@mantine/hooks';
import {
  Spotlight,
  type SpotlightActionData,
  type SpotlightActionGroupData,
  type SpotlightFilterFunction,
  spotlight,
} from '@mantine/spotlight';
import { IconSearch, IconServer, IconSettings } from '@tabler/icons-react';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { useApplianceSearch } from '../api/search';
import { SETTINGS_SECTIONS } from '../api/system';
import { useSession } from '../features/auth/session';
import { NAV_SECTIONS } from './navigation';

const matches = (q: string, a: SpotlightActionData) =>
  [a.label, a.description, ...(Array.isArray(a.keywords) ? a.keywords : [a.keywords ?? ''])]
    .join(' ')
    .toLowerCase()
    .includes(q);

export function CommandPalette() {
  const navigate = useNavigate();
  const { can } = useSession();
  const [query, setQuery] = useState('');
  const [search] = useDebouncedValue(query.trim(), 200);
  const mayReadAppliances = can('appliances:read');
  const appliances = useApplianceSearch(search, mayReadAppliances);

  const pages: SpotlightActionData[] = NAV_SECTIONS.flatMap((section) =>
    section.items
      .filter((item) => !item.permission || can(item.permission))
      .map((item) => ({
        id: `page:${item.to}`,
        label: item.label,
        description: section.title,
        leftSection: item.icon,
        onClick: () => navigate(item.to),
      })),
  );
  if (can('system:read')) {
    for (const s of [{ key: 'api_tokens', title: 'API tokens' }, ...SETTINGS_SECTIONS]) {
      pages.push({
        id: `page:/settings/${s.key}`,
        label: `Settings: ${s.title}`,
        description: 'System',
        leftSection: <IconSettings size={18} />,
        onClick: () => navigate(`/settings/${s.key}`),
      });
    }
  }
  // While the manager answers a new search, the last answer (kept to avoid a flicker) is for
  // other words: it is not shown, or Enter could open an appliance that does not match.
  const found: SpotlightActionData[] =
    search === '' || appliances.isPlaceholderData
      ? []
      : (appliances.data?.results ?? []).map((a) => ({
          id: `appliance:${a.id}`,
          label: a.name,
          description: `${a.type} · ${a.url}`,
          leftSection: <IconServer size={18} />,
          onClick: () => navigate(`/appliances/${a.id}`),
        }));

  const actions: SpotlightActionGroupData[] = [
    { group: 'Pages', actions: pages },
    { group: 'Appliances', actions: found },
  ];
  // Pages are matched here; appliances were matched by the manager, so they are kept as found.
  const filter: SpotlightFilterFunction = (q, groups) => {
    const needle = q.trim().toLowerCase();
    return groups
      .map((g) =>
        'actions' in g && g.group === 'Pages'
          ? { ...g, actions: g.actions.filter((a) => matches(needle, a)) }
          : g,
      )
      .filter((g) => !('actions' in g) || g.actions.length > 0);
  };

  return (
    <Spotlight
      actions={actions}
      filter={filter}
      query={query}
      onQueryChange={setQuery}
      shortcut={['mod + K']}
      // The dialog's accessible name; Spotlight shows no header of its own.
      title={<VisuallyHidden>Go to a page or an appliance</VisuallyHidden>}
      styles={{
        header: { minHeight: 0, padding: 0 },
        // On the selected (filled) action the description's own colour is 3.6:1; inherit white.
        actionDescription: { color: 'inherit', opacity: 1 },
      }}
      highlightQuery
      limit={12}
      // The list's scroll area takes keyboard focus (axe-core: scrollable-region-focusable).
      scrollAreaProps={{ viewportProps: { tabIndex: 0 } }}
      nothingFound={
        appliances.isFetching
          ? 'Searching…'
          : mayReadAppliances
            ? 'No page or appliance matches'
            : 'No page matches'
      }
      searchProps={{
        leftSection: <IconSearch size={18} aria-hidden />,
        placeholder: mayReadAppliances ? 'Go to a page or an appliance…' : 'Go to a page…',
        'aria-label': 'Go to a page or an appliance',
      }}
    />
  );
}

/** The header's way into the palette, for those who do not know the shortcut. */
export function PaletteButton() {
  const os = useOs();
  const mod = os === 'macos' ? '⌘' : 'Ctrl';
  return (
    <UnstyledButton
      onClick={() => spotlight.open()}
      aria-label={`Search pages and appliances (${mod}+K)`}
      px="sm"
      py={6}
      style={{
        border: '1px solid var(--mantine-color-default-border)',
        borderRadius: 'var(--mantine-radius-sm)',
      }}
    >
      <Group gap="xs" wrap="nowrap">
        <IconSearch size={16} aria-hidden />
        <Text size="sm" c="dimmed" visibleFrom="md">
          Go to…
        </Text>
        <Group gap={2} wrap="nowrap" visibleFrom="md" aria-hidden>
          <Kbd size="xs">{mod}</Kbd>
          <Kbd size="xs">K</Kbd>
        </Group>
      </Group>
    </UnstyledButton>
  );
}
