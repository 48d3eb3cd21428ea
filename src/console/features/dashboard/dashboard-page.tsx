// Home: the fleet at a glance. Every figure comes from one request (GET /api/v1/summary/,
// refreshed every 10 s); each card and each item of "Needs attention" links to the page that
// explains it. Charts (@mantine/charts, over recharts) where a picture reads faster than numbers:
// the fleet's state over the last 24 hours and the progress of an apply or upgrade under way.
import { AreaChart, BarChart } from '@mantine/charts';
import {
  Anchor,
  Badge,
  Group,
  Paper,
  SimpleGrid,
  Stack,
  Stepper,
  Text,
  ThemeIcon,
  Title,
  UnstyledButton,
} from '@mantine/core';
import {
  IconAlertTriangle,
  IconCircleCheck,
  IconClockHour4,
  IconKey,
  IconPackage,
  IconServer,
} from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { useSummary } from '../../api/summary';
import type { AttentionItem, Summary } from '../../api/types';
import { DateText, ErrorState, PageHeader } from '../../components/common';
import { AgentCommand } from '../appliances/agent-command';
import { useSession } from '../auth/session';

type StateKey = keyof Summary['appliances']['by_state'];
type ConfigKey = keyof Summary['appliances']['by_configuration_status'];

const STATE_CARDS: { key: StateKey; label: string; color: string }[] = [
  { key: 'online', label: 'Online', color: 'teal' },
  { key: 'degraded', label: 'Degraded', color: 'yellow' },
  { key: 'offline', label: 'Offline', color: 'red' },
  { key: 'maintenance', label: 'In maintenance', color: 'blue' },
  { key: 'unauthorized', label: 'Not authorized', color: 'gray' },
];

const CONFIG_CARDS: { key: ConfigKey; label: string; color: string }[] = [
  { key: 'done', label: 'Configuration done', color: 'teal' },
  { key: 'pending', label: 'Being applied', color: 'blue' },
  { key: 'error', label: 'Configuration error', color: 'red' },
  { key: 'mismatch', label: 'Out of sync', color: 'orange' },
  { key: 'changes_awaiting_apply', label: 'Awaiting apply', color: 'yellow' },
];

// Filled badges whose text keeps a 4.5:1 contrast (autoContrast picks black or white text).
const SEVERITY_COLOR: Record<string, string> = { error: 'red.9', warning: 'yellow.5', info: 'blue.8' };

/** Where an attention item is explained. */
function targetOf(item: AttentionItem): string {
  if (item.target_type === 'appliance') return `/appliances/${item.target_id}`;
  if (item.target_type === 'upgrade') return '/upgrades';
  return '/tokens';
}

const hourFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

function Section({ title, action, children }: { title: string; action?: ReactNode; children: ReactNode }) {
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-label={title}>
      <Group justify="space-between" mb="sm" wrap="nowrap">
        <Title order={2} size="h4">
          {title}
        </Title>
        {action}
      </Group>
      {children}
    </Paper>
  );
}

function StatCard({
  testId,
  label,
  value,
  color,
  to,
}: {
  testId: string;
  label: string;
  value: number;
  color: string;
  to: string;
}) {
  return (
    <UnstyledButton component={Link} to={to} data-testid={testId} aria-label={`${value} ${label}`}>
      <Paper
        withBorder
        p="sm"
        radius="md"
        style={{ borderLeft: `4px solid var(--mantine-color-${color}-6)` }}
      >
        <Text fz={28} fw={700} lh={1.1}>
          {value.toLocaleString()}
        </Text>
        <Text size="sm" c="dimmed">
          {label}
        </Text>
      </Paper>
    </UnstyledButton>
  );
}

function Attention({ items }: { items: AttentionItem[] }) {
  if (items.length === 0) {
    return (
      <Group gap="xs">
        <ThemeIcon color="teal" variant="light" radius="xl" size="sm">
          <IconCircleCheck size={14} />
        </ThemeIcon>
        <Text size="sm">Nothing needs attention.</Text>
      </Group>
    );
  }
  return (
    <Stack gap={6} component="ul" style={{ listStyle: 'none', margin: 0, padding: 0 }}>
      {items.map((item) => (
        <Group
          key={`${item.kind}-${item.target_id}`}
          component="li"
          gap="xs"
          wrap="nowrap"
          align="flex-start"
          data-testid="attention-item"
        >
          <Badge
            color={SEVERITY_COLOR[item.severity] ?? 'gray'}
            variant="filled"
            autoContrast
            w={70}
            style={{ flexShrink: 0 }}
          >
            {item.severity}
          </Badge>
          <Stack gap={0} style={{ minWidth: 0 }}>
            <Anchor component={Link} to={targetOf(item)} size="sm" style={{ overflowWrap: 'anywhere' }}>
              {item.message}
            </Anchor>
            {item.since && (
              <Text size="xs" c="dimmed">
                since <DateText iso={item.since} />
              </Text>
            )}
          </Stack>
        </Group>
      ))}
    </Stack>
  );
}

function FleetState({ points }: { points: Summary['fleet_state'] }) {
  const data = points.map((p) => ({
    time: hourFmt.format(new Date(p.at)),
    Answering: p.online,
    'Not answering': p.offline,
  }));
  const now = points.at(-1);
  return (
    <>
      <AreaChart
        h={220}
        data={data}
        dataKey="time"
        curveType="linear"
        withDots={false}
        withLegend
        legendProps={{ verticalAlign: 'bottom', height: 40 }}
        series={[
          { name: 'Answering', color: 'teal.6' },
          { name: 'Not answering', color: 'red.6' },
        ]}
        xAxisProps={{ interval: 3 }}
        yAxisProps={{ allowDecimals: false }}
        aria-label="Authorized appliances answering and not answering, hour by hour over the last 24 hours"
      />
      {now && (
        <Text size="sm" mt="xs" data-testid="fleet-state-now">
          Now: {now.online} answering, {now.offline} not answering.
        </Text>
      )}
    </>
  );
}

function Rollouts({ rollouts }: { rollouts: NonNullable<Summary['rollouts']> }) {
  if (rollouts.length === 0) return <Text size="sm">No configuration is being applied.</Text>;
  const data = rollouts.map((r) => ({
    group: `${r.group_name} (revision ${r.revision})`,
    Done: (r.by_status.done ?? 0) + (r.by_status.unsupported ?? 0),
    Pending: r.by_status.pending ?? 0,
    Error: r.by_status.error ?? 0,
    Other:
      r.total -
      (r.by_status.done ?? 0) -
      (r.by_status.unsupported ?? 0) -
      (r.by_status.pending ?? 0) -
      (r.by_status.error ?? 0),
  }));
  return (
    <>
      <BarChart
        h={60 + 44 * data.length}
        data={data}
        dataKey="group"
        type="stacked"
        orientation="vertical"
        withLegend
        yAxisProps={{ width: 160 }}
        series={[
          { name: 'Done', color: 'teal.6' },
          { name: 'Pending', color: 'blue.5' },
          { name: 'Error', color: 'red.6' },
          { name: 'Other', color: 'gray.5' },
        ]}
        aria-label="Members of each group being applied, by outcome"
      />
      {rollouts.map((r) => (
        <Text key={r.group_id} size="sm" data-testid="rollout">
          {r.group_name}: {(r.by_status.done ?? 0) + (r.by_status.unsupported ?? 0)} of {r.total} done,{' '}
          {r.by_status.pending ?? 0} pending, {r.by_status.error ?? 0} failed.
        </Text>
      ))}
    </>
  );
}

const UPGRADE_STEPS = ['pending', 'downloading', 'installing'];

function Upgrades({ upgrades }: { upgrades: NonNullable<Summary['upgrades']> }) {
  const u = upgrades.current;
  const last = upgrades.recent.find((r) => r.finished !== null);
  if (!u) {
    return (
      <Text size="sm" data-testid="upgrade-none">
        No upgrade is running.
        {last && (
          <>
            {' '}
            Last: {last.appliance_name} to {last.version}, {last.status === 'error' ? 'failed' : 'finished'}{' '}
            <DateText iso={last.finished} />.
          </>
        )}
      </Text>
    );
  }
  const step = Math.max(UPGRADE_STEPS.indexOf(u.status), 0);
  return (
    <Stack gap="sm" data-testid="upgrade-current">
      <Text size="sm">
        {u.appliance_name} to {u.version}, started <DateText iso={u.started} />
      </Text>
      <Stepper active={step} size="xs" allowNextStepsSelect={false} aria-label="Upgrade progress">
        <Stepper.Step label="Queued" />
        <Stepper.Step label="Downloading" />
        <Stepper.Step label="Installing" />
        <Stepper.Step label="Done" />
      </Stepper>
    </Stack>
  );
}

export function DashboardPage() {
  const { can } = useSession();
  const summary = useSummary(can('appliances:read'));
  const s = summary.data;

  if (!can('appliances:read')) {
    return (
      <>
        <PageHeader title="Dashboard" />
        <Text>
          The dashboard shows the fleet, which your account may not read. Your{' '}
          <Anchor component={Link} to="/tokens">
            API tokens
          </Anchor>{' '}
          and{' '}
          <Anchor component={Link} to="/sessions">
            sessions
          </Anchor>{' '}
          are in the menu.
        </Text>
      </>
    );
  }

  return (
    <>
      <PageHeader
        title="Dashboard"
        description={
          s ? (
            <>
              The fleet at a glance, refreshed every 10 seconds (figures of <DateText iso={s.generated_at} />
              ).
            </>
          ) : (
            'The fleet at a glance.'
          )
        }
      />
      {summary.error && <ErrorState error={summary.error} what="the fleet summary" />}
      {!s && !summary.error && <Text>Loading…</Text>}
      {s && (
        <Stack gap="md">
          {s.appliances.total === 0 && (
            <Paper withBorder p="md" radius="md">
              <Stack gap="sm">
                <Group gap="sm" wrap="nowrap">
                  <IconServer size={24} aria-hidden />
                  <Text size="sm">
                    No appliances yet. Run this on an appliance to start its agent, paired with this manager
                    only; then{' '}
                    <Anchor component={Link} to="/appliances">
                      add it on the Appliances page
                    </Anchor>{' '}
                    with the URL the agent prints.
                  </Text>
                </Group>
                <AgentCommand compact />
              </Stack>
            </Paper>
          )}
          <section aria-label="Appliances by state">
            <Group justify="space-between" mb={6}>
              <Title order={2} size="h4">
                Appliances: {s.appliances.total.toLocaleString()}
              </Title>
              <Anchor component={Link} to="/appliances" size="sm">
                All appliances
              </Anchor>
            </Group>
            <SimpleGrid cols={{ base: 2, sm: 3, lg: 5 }} spacing="sm">
              {STATE_CARDS.map((c) => (
                <StatCard
                  key={c.key}
                  testId={`stat-${c.key}`}
                  label={c.label}
                  value={s.appliances.by_state[c.key]}
                  color={c.color}
                  to="/appliances"
                />
              ))}
            </SimpleGrid>
          </section>
          <section aria-label="Appliances by configuration status">
            <SimpleGrid cols={{ base: 2, sm: 3, lg: 5 }} spacing="sm">
              {CONFIG_CARDS.map((c) => (
                <StatCard
                  key={c.key}
                  testId={`config-${c.key}`}
                  label={c.label}
                  value={s.appliances.by_configuration_status[c.key]}
                  color={c.color}
                  to={c.key === 'mismatch' || c.key === 'error' ? '/appliances' : '/config-groups'}
                />
              ))}
            </SimpleGrid>
          </section>
          <SimpleGrid cols={{ base: 1, lg: 2 }} spacing="md">
            <Section title="Needs attention">
              <Attention items={s.attention} />
            </Section>
            <Section title="Fleet state, last 24 hours">
              <FleetState points={s.fleet_state} />
            </Section>
          </SimpleGrid>
          <SimpleGrid cols={{ base: 1, lg: 2 }} spacing="md">
            {s.rollouts !== null && (
              <Section
                title="Configuration being applied"
                action={
                  <Anchor component={Link} to="/config-groups" size="sm">
                    Groups
                  </Anchor>
                }
              >
                <Rollouts rollouts={s.rollouts} />
              </Section>
            )}
            {s.upgrades !== null && (
              <Section
                title="Upgrades"
                action={
                  <Anchor component={Link} to="/upgrades" size="sm">
                    <Group gap={4} wrap="nowrap">
                      <IconPackage size={14} aria-hidden />
                      Upgrades
                    </Group>
                  </Anchor>
                }
              >
                <Upgrades upgrades={s.upgrades} />
              </Section>
            )}
          </SimpleGrid>
          <SimpleGrid cols={{ base: 1, lg: 2 }} spacing="md">
            <Section
              title="Alerts, last 24 hours"
              action={
                <Anchor component={Link} to="/activities" size="sm">
                  All activities
                </Anchor>
              }
            >
              <Group gap="xs" mb="xs">
                <IconAlertTriangle size={18} aria-hidden />
                <Text size="sm" data-testid="alerts-count">
                  Warnings and errors: {s.alerts.last_24h}
                </Text>
              </Group>
              <Stack gap={4}>
                {s.alerts.recent.slice(0, 5).map((a) => (
                  <Group key={a.id} gap="xs" wrap="nowrap" align="flex-start">
                    <Badge
                      color={SEVERITY_COLOR[a.severity] ?? 'gray'}
                      variant="filled"
                      autoContrast
                      w={70}
                      style={{ flexShrink: 0 }}
                    >
                      {a.severity}
                    </Badge>
                    <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
                      <DateText iso={a.at} /> {a.message}
                    </Text>
                  </Group>
                ))}
              </Stack>
            </Section>
            {s.tokens !== null && (
              <Section
                title="API tokens"
                action={
                  <Anchor component={Link} to="/tokens" size="sm">
                    <Group gap={4} wrap="nowrap">
                      <IconKey size={14} aria-hidden />
                      Tokens
                    </Group>
                  </Anchor>
                }
              >
                {s.tokens.warning_days === 0 ? (
                  <Text size="sm">Token expiry warnings are off (system alerting settings).</Text>
                ) : (
                  <>
                    <Group gap="xs" mb="xs">
                      <IconClockHour4 size={18} aria-hidden />
                      <Text size="sm" data-testid="tokens-expiring">
                        {s.tokens.expiring} expiring within {s.tokens.warning_days} days
                      </Text>
                    </Group>
                    <Stack gap={4}>
                      {s.tokens.soonest.map((t) => (
                        <Text key={t.id} size="sm">
                          {t.name} ({t.owner}): <DateText iso={t.expires_at} />
                        </Text>
                      ))}
                    </Stack>
                  </>
                )}
              </Section>
            )}
          </SimpleGrid>
        </Stack>
      )}
    </>
  );
}
