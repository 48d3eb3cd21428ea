// An appliance's health over the last hours: CPU load, memory and disk in small charts
// (@mantine/charts), from the samples the manager keeps (one every 5 minutes while the appliance
// answers, 24 hours), followed by the latest figures it reported.
import { LineChart } from '@mantine/charts';
import { Group, Paper, SegmentedControl, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { type HealthSample, useApplianceHealth } from '../../api/appliance-health';
import type { Appliance } from '../../api/types';
import { ErrorState } from '../../components/common';

/** What the agent last reported (the appliance's `system_data`), as far as the charts need it. */
interface SystemData {
  uptime_seconds?: number;
  load?: number[];
  memory?: { total?: number; free?: number };
  disk?: { used_percent?: number };
}

const HOURS = ['1', '6', '24'] as const;

export function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  return `${m} min`;
}

const time = (iso: string) =>
  new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', timeZone: 'UTC' });

/** The latest figures of `system_data`, as one more point after the samples. */
function latestOf(a: Appliance): HealthSample | undefined {
  const s = a.system_data as SystemData;
  const load1 = s.load?.[0];
  const total = s.memory?.total ?? 0;
  if (!a.online || !a.last_seen_online || typeof load1 !== 'number' || total <= 0) return undefined;
  return {
    at: a.last_seen_online,
    load1: Math.round(load1 * 100) / 100,
    memory_used_percent: Math.round(((total - (s.memory?.free ?? 0)) / total) * 1000) / 10,
    disk_used_percent: s.disk?.used_percent ?? 0,
    uptime_seconds: s.uptime_seconds ?? 0,
  };
}

function SmallChart({
  title,
  data,
  dataKey,
  unit,
  color,
  max,
}: {
  title: string;
  data: Record<string, string | number>[];
  dataKey: string;
  unit: string;
  color: string;
  max?: number;
}) {
  const last = data.at(-1)?.[dataKey];
  return (
    <Paper withBorder p="sm" radius="md">
      <Group justify="space-between" mb={4}>
        <Text size="sm" fw={600}>
          {title}
        </Text>
        <Text size="sm" data-testid={`health-now-${dataKey}`}>
          {last === undefined ? '—' : `${last}${unit}`}
        </Text>
      </Group>
      {/* One picture for assistive technology, named by what it shows (the chart's own div may not carry a label). */}
      <div
        role="img"
        aria-label={`${title} over time, latest ${last === undefined ? 'unknown' : `${last}${unit}`}`}
      >
        <LineChart
          h={120}
          data={data}
          dataKey="time"
          series={[{ name: dataKey, label: title, color }]}
          curveType="monotone"
          withDots={data.length < 3}
          gridAxis="y"
          tickLine="none"
          yAxisProps={{ width: 36, domain: max === undefined ? [0, 'auto'] : [0, max] }}
          xAxisProps={{ minTickGap: 24 }}
          valueFormatter={(v) => `${v}${unit}`}
        />
      </div>
    </Paper>
  );
}

export function HealthCharts({ appliance }: { appliance: Appliance }) {
  const [hours, setHours] = useState<(typeof HOURS)[number]>('6');
  const history = useApplianceHealth(appliance.id, Number(hours));
  const samples = [...(history.data?.samples ?? [])];
  const latest = latestOf(appliance);
  if (latest && (samples.length === 0 || (samples.at(-1)?.at ?? '') < latest.at)) samples.push(latest);
  const data = samples.map((s) => ({
    time: time(s.at),
    load: s.load1,
    memory: s.memory_used_percent,
    disk: s.disk_used_percent,
  }));
  const uptime = latest?.uptime_seconds ?? (appliance.system_data as SystemData).uptime_seconds;
  return (
    <Stack gap="xs">
      <Group justify="space-between" wrap="wrap">
        <Title order={2} size="h4">
          Health
        </Title>
        <Group gap="sm">
          <Text size="sm" data-testid="uptime">
            {appliance.online && typeof uptime === 'number'
              ? `Agent up for ${formatUptime(uptime)}`
              : 'Not answering: no current figures'}
          </Text>
          <SegmentedControl
            size="xs"
            aria-label="Period"
            value={hours}
            onChange={(v) => setHours(v as (typeof HOURS)[number])}
            data={HOURS.map((h) => ({ value: h, label: `${h} h` }))}
          />
        </Group>
      </Group>
      {history.error ? (
        <ErrorState error={history.error} what="the health history" />
      ) : data.length === 0 ? (
        <Text size="sm" c="dimmed">
          No health figures yet: the manager keeps one sample every 5 minutes while the appliance answers.
        </Text>
      ) : (
        <SimpleGrid cols={{ base: 1, sm: 3 }} data-testid="health-charts">
          <SmallChart title="CPU load (1 min)" data={data} dataKey="load" unit="" color="blue.6" />
          <SmallChart title="Memory used" data={data} dataKey="memory" unit="%" color="grape.6" max={100} />
          <SmallChart title="Disk used" data={data} dataKey="disk" unit="%" color="orange.6" max={100} />
        </SimpleGrid>
      )}
    </Stack>
  );
}
