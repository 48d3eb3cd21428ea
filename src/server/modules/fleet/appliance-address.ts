// Where the manager may call appliances, and what a failed contact may tell the caller
// (docs/fleet.md, "Appliance network policy"). An appliance URL is checked when it is added and
// again on every call (agent-client.ts): the first check names the field, the second one holds
// when DNS answers differently later. A failed authorization answers by class with a fixed
// message: what the remote end said, or how its port behaved, is never echoed, so the manager
// is not a port scanner or a proxy for reading internal services.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { AddressPolicy } from '../../shared/address-policy.js';
import { AppError, badField } from '../../shared/app-error.js';
import type { UnreachableReason } from './agent-client.js';

const OUTSIDE =
  'is outside the appliance networks the manager may call (network settings: appliance_networks; ' +
  'link-local and cloud metadata addresses are refused unless listed themselves)';

/**
 * Refuses (400, `body.url`) a URL whose address the policy does not allow. A host name must
 * resolve to at least one allowed address; one that does not resolve yet is accepted and checked
 * on each call.
 */
export async function checkApplianceAddress(url: string, policy: AddressPolicy): Promise<void> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) {
    if (!policy.allows(host)) throw badField('body.url', OUTSIDE);
    return;
  }
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true });
  } catch {
    return;
  }
  if (!addresses.some((a) => policy.allows(a.address))) throw badField('body.url', OUTSIDE);
}

/** Why an authorization failed, as the caller learns it. */
export type PairingFailure = UnreachableReason | 'not_a_steward_agent';

const MESSAGES: Record<PairingFailure, string> = {
  unreachable: 'the appliance did not answer at its URL',
  tls: 'the TLS connection to the appliance failed',
  not_a_steward_agent: 'what answers at the appliance URL is not a Steward agent',
  refused_by_policy: `the appliance URL ${OUTSIDE}`,
};

/**
 * The answer to a failed authorization: a fixed message that starts with the class
 * (`unreachable: …`). A 503 carries no extra members (errors.ts), so the class is in `detail`.
 */
export function pairingFailure(reason: PairingFailure): AppError {
  return new AppError({
    code: reason === 'refused_by_policy' ? 'conflict' : 'unavailable',
    message: `${reason}: ${MESSAGES[reason]}`,
  });
}
