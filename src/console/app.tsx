import {
  type CSSVariablesResolver,
  createTheme,
  DEFAULT_THEME,
  MantineProvider,
  Modal,
  Notification,
  Table,
} from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router';
import { ApiError } from './api/errors';
import { ActivitiesPage } from './features/activities/activities-page';
import { ApplianceDetailPage } from './features/appliances/appliance-detail-page';
import { AppliancesPage } from './features/appliances/appliances-page';
import { AuditPage } from './features/audit/audit-page';
import { RequireSession, SessionProvider } from './features/auth/session';
import { SignInPage } from './features/auth/sign-in-page';
import { BackupPage } from './features/backup/backup-page';
import { ConfigGroupsPage } from './features/config-groups/config-groups-page';
import { DashboardPage } from './features/dashboard/dashboard-page';
import { FilesPage } from './features/files/files-page';
import { HubGroupsPage } from './features/hub-groups/hub-groups-page';
import { LicensingPage } from './features/licensing/licensing-page';
import { SessionsPage } from './features/sessions/sessions-page';
import { SettingsPage } from './features/settings/settings-page';
import { TokensPage } from './features/tokens/tokens-page';
import { UpgradesPage } from './features/upgrades/upgrades-page';
import { UsersPage } from './features/users/users-page';
import { Shell } from './layout/shell';

const theme = createTheme({
  primaryColor: 'indigo',
  // Shade 7, not Mantine's 6: links and primary text on white reach the WCAG AA contrast of 4.5:1
  // (indigo 6 is 4.3:1; axe-core counts that as a serious violation).
  primaryShade: { light: 7, dark: 8 },
  defaultRadius: 'sm',
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
  components: {
    // Column headers on one line; cells wrap (the scroll container handles narrow windows).
    Table: Table.extend({ styles: { th: { whiteSpace: 'nowrap' } } }),
    // A table wider than the screen scrolls sideways: its scroll area takes keyboard focus so the
    // arrow keys reach the hidden columns (axe-core: scrollable-region-focusable).
    TableScrollContainer: Table.ScrollContainer.extend({
      defaultProps: { scrollAreaProps: { viewportProps: { tabIndex: 0 } } },
    }),
    // Mantine's close button on a notification has no accessible name: a screen reader hears
    // "button" (axe-core: button-name, serious) whenever a toast is on screen.
    Notification: Notification.extend({
      defaultProps: { closeButtonProps: { 'aria-label': 'Dismiss notification' } },
    }),
    // The same for a dialog's close button (the X in its title bar).
    Modal: Modal.extend({ defaultProps: { closeButtonProps: { 'aria-label': 'Close' } } }),
  },
});

// Mantine's dimmed text (gray 6) is 3.3:1 on white, below WCAG AA; gray 7 is 8:1. Its error
// text (red 6, under a field and on the field's border) is 3.3:1; red 9 is 5.6:1. In dark mode
// its dimmed (dark 2) is 4.0:1 on the page's dark 7; dark 1 is 7.8:1. Placeholders likewise
// (gray 5 is 2.1:1 on white, dark 3 2.5:1 on a dark input).
// The light and outline variants' text (a badge, a light button) is each colour's shade 9 at most:
// green 9 is 3.8:1 on its own light background. Mixed with 30% black, every colour's reaches 4.5:1
// on white and on its light background (axe-core checks each badge on the page).
const VARIANT_TEXT = Object.fromEntries(
  Object.keys(DEFAULT_THEME.colors).flatMap((c) => [
    [`--mantine-color-${c}-light-color`, `color-mix(in srgb, var(--mantine-color-${c}-9) 70%, black)`],
    [`--mantine-color-${c}-outline`, `color-mix(in srgb, var(--mantine-color-${c}-9) 70%, black)`],
  ]),
);

const cssVariablesResolver: CSSVariablesResolver = () => ({
  variables: {},
  // --steward-backdrop: behind a lone card (the sign-in page), in either scheme.
  light: {
    '--mantine-color-dimmed': 'var(--mantine-color-gray-7)',
    '--mantine-color-placeholder': 'var(--mantine-color-gray-7)',
    '--mantine-color-error': 'var(--mantine-color-red-9)',
    '--steward-backdrop': 'var(--mantine-color-gray-0)',
    ...VARIANT_TEXT,
  },
  dark: {
    '--mantine-color-dimmed': 'var(--mantine-color-dark-1)',
    '--mantine-color-placeholder': 'var(--mantine-color-dark-1)',
    '--steward-backdrop': 'var(--mantine-color-dark-8)',
  },
});

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // 4xx answers are final: retrying a 403 or 404 only delays the message.
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
      refetchOnWindowFocus: false,
    },
  },
});

export function App() {
  return (
    // Light or dark as the operating system says, until the admin picks one in the header (kept in
    // local storage by Mantine's colour scheme manager).
    <MantineProvider theme={theme} defaultColorScheme="auto" cssVariablesResolver={cssVariablesResolver}>
      <Notifications position="top-right" />
      <QueryClientProvider client={queryClient}>
        <BrowserRouter>
          <SessionProvider>
            <Routes>
              <Route path="/sign-in" element={<SignInPage />} />
              <Route
                element={
                  <RequireSession>
                    <Shell />
                  </RequireSession>
                }
              >
                <Route index element={<DashboardPage />} />
                <Route path="tokens" element={<TokensPage />} />
                <Route path="users" element={<UsersPage />} />
                <Route path="sessions" element={<SessionsPage />} />
                <Route path="audit" element={<AuditPage />} />
                <Route path="appliances" element={<AppliancesPage />} />
                <Route path="appliances/:id" element={<ApplianceDetailPage />} />
                <Route path="config-groups" element={<ConfigGroupsPage />} />
                <Route path="hub-groups" element={<HubGroupsPage />} />
                <Route path="upgrades" element={<UpgradesPage />} />
                <Route path="activities" element={<ActivitiesPage />} />
                <Route path="licensing" element={<LicensingPage />} />
                <Route path="files" element={<FilesPage />} />
                <Route path="settings" element={<Navigate to="/settings/api_tokens" replace />} />
                <Route path="settings/:section" element={<SettingsPage />} />
                <Route path="backup" element={<BackupPage />} />
                <Route path="*" element={<Navigate to="/" replace />} />
              </Route>
            </Routes>
          </SessionProvider>
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  );
}
