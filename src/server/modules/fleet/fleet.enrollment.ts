// What an admin needs to enroll an appliance: the `steward agent` command that makes the agent
// pair with this manager only, and what to compare. Pure: the service gives it the manager's
// pairing-key fingerprint and URL.
import type { ApplianceType } from '../../../contract/fleet-fields.js';

export interface Enrollment {
  manager_url: string | null;
  fingerprint: string;
  type: ApplianceType;
  name: string | null;
  command: string;
  argv: string[];
  steps: string[];
}

/**
 * The command pins the manager by its pairing-key fingerprint, not by its URL: the agent checks
 * the fingerprint against the key that signed the pairing request, while a URL is only what the
 * manager says of itself. Every value is from a closed alphabet (the type names, `sha256:<hex>`,
 * an appliance name of letters, digits, dot, dash and underscore), so the line needs no quoting
 * in any shell.
 */
export function enrollmentFor(input: {
  fingerprint: string;
  managerUrl: string | null;
  type: ApplianceType;
  name?: string | undefined;
}): Enrollment {
  const argv = ['agent', '--type', input.type, '--manager', input.fingerprint];
  if (input.name) argv.push('--name', input.name);
  const pairing = input.type !== 'a1000';
  return {
    manager_url: input.managerUrl,
    fingerprint: input.fingerprint,
    type: input.type,
    name: input.name ?? null,
    command: `steward ${argv.join(' ')}`,
    argv,
    steps: [
      'On the appliance, run the command (as the service user; add --data <dir> to keep its state elsewhere than ./agent-data, --listen <host:port> to change 0.0.0.0:8443).',
      'Note the "TLS certificate:" line it prints' +
        (pairing ? '.' : ' and the "API token:" line (shown once).'),
      'In the console, add the appliance with the agent URL (https://<appliance>:8443).',
      pairing
        ? 'Authorize it: the manager pairs with the agent, which accepts only the manager with this fingerprint; compare the pinned certificate fingerprint the console shows with the "TLS certificate:" line.'
        : 'Authorize it with the API token the agent printed; compare the pinned certificate fingerprint the console shows with the "TLS certificate:" line.',
    ],
  };
}
