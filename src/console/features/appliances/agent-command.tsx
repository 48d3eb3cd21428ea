// The `steward agent` command that enrolls an appliance with this manager, with a copy button:
// the list's empty state shows it, and any page that onboards appliances (the dashboard) can.
import {
  ActionIcon,
  Alert,
  Code,
  CopyButton,
  Group,
  SegmentedControl,
  Stack,
  Text,
  Tooltip,
} from '@mantine/core';
import { IconCheck, IconCopy } from '@tabler/icons-react';
import { useState } from 'react';
import { errorMessage } from '../../api/errors';
import { useEnrollment } from '../../api/fleet';

const TYPES = [
  { value: 'tiscale-worker', label: 'Worker' },
  { value: 'tiscale-hub', label: 'Hub' },
  { value: 'a1000', label: 'Spectra Analyze' },
];

/** The manager's pairing-key fingerprint, for comparing with what an agent pinned. */
export function ManagerFingerprint() {
  const enrollment = useEnrollment('tiscale-worker');
  if (!enrollment.data) return null;
  return (
    <Text size="sm">
      This manager's fingerprint:{' '}
      <Code style={{ wordBreak: 'break-all' }} data-testid="manager-fingerprint">
        {enrollment.data.fingerprint}
      </Code>
    </Text>
  );
}

/**
 * The command for the chosen appliance type and what to do after it. `compact` leaves out the
 * steps (for small cards).
 */
export function AgentCommand({ compact = false }: { compact?: boolean }) {
  const [type, setType] = useState('tiscale-worker');
  const enrollment = useEnrollment(type);
  const e = enrollment.data;
  return (
    <Stack gap="xs" data-testid="agent-command">
      <SegmentedControl
        aria-label="Appliance type"
        size="xs"
        data={TYPES}
        value={type}
        onChange={setType}
        style={{ alignSelf: 'flex-start' }}
      />
      {enrollment.error ? (
        <Alert color="red" role="alert" title="Could not load the enrollment command">
          {errorMessage(enrollment.error)}
        </Alert>
      ) : (
        <>
          <Text size="sm">Run this on the appliance:</Text>
          <Group gap="xs" wrap="nowrap" align="flex-start">
            <Code
              block
              style={{ flex: 1, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}
              data-testid="agent-command-line"
            >
              {e?.command ?? 'Loading…'}
            </Code>
            <CopyButton value={e?.command ?? ''}>
              {({ copied, copy }) => (
                <Tooltip label={copied ? 'Copied' : 'Copy the command'}>
                  <ActionIcon
                    variant="light"
                    size="lg"
                    onClick={copy}
                    disabled={!e}
                    aria-label={copied ? 'Copied' : 'Copy the command'}
                  >
                    {copied ? <IconCheck size={18} /> : <IconCopy size={18} />}
                  </ActionIcon>
                </Tooltip>
              )}
            </CopyButton>
          </Group>
          {e && (
            <Text size="xs" c="dimmed">
              The agent pairs only with the manager whose key has the fingerprint{' '}
              <Code style={{ wordBreak: 'break-all' }}>{e.fingerprint}</Code>
              {e.manager_url ? (
                <>
                  {' '}
                  (this manager, <Code>{e.manager_url}</Code>)
                </>
              ) : null}
              . It prints this fingerprint and its own certificate's when it starts.
            </Text>
          )}
          {e && !compact && (
            <Stack gap={2} component="ol" style={{ paddingInlineStart: '1.2rem', margin: 0 }}>
              {e.steps.map((s) => (
                <Text component="li" size="sm" key={s}>
                  {s}
                </Text>
              ))}
            </Stack>
          )}
        </>
      )}
    </Stack>
  );
}
