import {
  ActionIcon,
  Anchor,
  AppShell,
  Burger,
  Button,
  Group,
  NavLink,
  ScrollArea,
  Text,
  Title,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { IconApi, IconLogout } from '@tabler/icons-react';
import { Outlet, NavLink as RouterLink, useLocation, useNavigate } from 'react-router';
import { useSignOut } from '../api/identity';
import { API_DOCS_URL, SETTINGS_SECTIONS } from '../api/system';
import { useSession } from '../features/auth/session';
import { ColorSchemeMenu } from './color-scheme-menu';
import { CommandPalette, PaletteButton } from './command-palette';
import { NAV_SECTIONS } from './navigation';

export function Shell() {
  const [opened, { toggle, close }] = useDisclosure();
  const { me, can } = useSession();
  const signOut = useSignOut();
  const navigate = useNavigate();
  const location = useLocation();

  const doSignOut = () =>
    signOut.mutate(undefined, { onSettled: () => navigate('/sign-in', { replace: true, state: null }) });

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 240, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label="Toggle navigation"
            />
            <Title order={2} size="h4">
              Steward
            </Title>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <PaletteButton />
            <ColorSchemeMenu />
            {/* On a phone the header keeps icons only, so every control fits in 390 px. */}
            <Anchor href={API_DOCS_URL} target="_blank" rel="noopener" size="sm" aria-label="API docs">
              <Group gap={4} wrap="nowrap">
                <IconApi size={18} aria-hidden />
                <Text span inherit visibleFrom="sm">
                  API docs
                </Text>
              </Group>
            </Anchor>
            <Text size="sm" c="dimmed" visibleFrom="xs" data-testid="whoami">
              {me?.user.username} · {me?.user.role}
            </Text>
            <ActionIcon
              hiddenFrom="xs"
              variant="subtle"
              size="lg"
              aria-label="Sign out"
              onClick={doSignOut}
              loading={signOut.isPending}
            >
              <IconLogout size={18} aria-hidden />
            </ActionIcon>
            <Button
              visibleFrom="xs"
              variant="subtle"
              size="compact-sm"
              leftSection={<IconLogout size={16} />}
              onClick={doSignOut}
              loading={signOut.isPending}
            >
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        <AppShell.Section grow component={ScrollArea}>
          {NAV_SECTIONS.map((section) => {
            const items = section.items.filter((i) => !i.permission || can(i.permission));
            if (items.length === 0) return null;
            return (
              <div key={section.title}>
                <Text size="xs" fw={700} c="dimmed" tt="uppercase" px="sm" pt="sm" pb={4}>
                  {section.title}
                </Text>
                {items.map((item) => (
                  <div key={item.to}>
                    <NavLink
                      component={RouterLink}
                      to={item.to}
                      label={item.label}
                      leftSection={item.icon}
                      // Filled: white on indigo keeps 5:1 contrast, hovered too (the light
                      // variant's hover shade left the label at 4.1:1, an axe-core violation).
                      variant="filled"
                      active={
                        location.pathname === item.to ||
                        (item.to !== '/' && location.pathname.startsWith(`${item.to}/`))
                      }
                      onClick={close}
                    />
                    {item.to === '/settings' &&
                      location.pathname.startsWith('/settings') &&
                      [{ key: 'api_tokens', title: 'API tokens' }, ...SETTINGS_SECTIONS].map((s) => (
                        <NavLink
                          key={s.key}
                          component={RouterLink}
                          to={`/settings/${s.key}`}
                          label={s.title}
                          pl={44}
                          py={4}
                          active={location.pathname === `/settings/${s.key}`}
                          variant="subtle"
                          onClick={close}
                        />
                      ))}
                  </div>
                ))}
              </div>
            );
          })}
        </AppShell.Section>
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
      <CommandPalette />
    </AppShell>
  );
}
