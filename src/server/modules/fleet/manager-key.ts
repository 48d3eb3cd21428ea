// The manager's pairing key (Ed25519). Agents pin its fingerprint when they pair, so only this
// manager (or one restored from its backup) can drive them. Made once; the private half is
// stored sealed with the manager's secret key.

import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto';
import { pairingMessage } from '../../../contract/fleet-fields.js';
import type { SecretBox } from '../../shared/secret-box.js';
import type { FleetRepo } from './fleet.repo.js';

export interface ManagerKey {
  publicKey: string;
  fingerprint: string;
  privateKey: KeyObject;
}

export function createManagerKeyStore(
  repo: Pick<FleetRepo, 'managerIdentity' | 'insertManagerIdentityIfAbsent'>,
  secrets: SecretBox,
) {
  let cached: ManagerKey | undefined;

  async function get(): Promise<ManagerKey> {
    if (cached) return cached;
    let row = await repo.managerIdentity();
    if (!row) {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const pub = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
      const priv = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
      const fingerprint = `sha256:${createHash('sha256').update(Buffer.from(pub, 'base64')).digest('hex')}`;
      // Two replicas starting together: the first insert wins, the other reads it back.
      await repo.insertManagerIdentityIfAbsent({
        public_key: pub,
        private_key_sealed: secrets.seal(priv),
        fingerprint,
      });
      row = await repo.managerIdentity();
      if (!row) throw new Error('the manager key was stored but cannot be read back');
    }
    const privateKey = createPrivateKey({
      key: Buffer.from(secrets.open(row.private_key_sealed), 'base64'),
      format: 'der',
      type: 'pkcs8',
    });
    cached = { publicKey: row.public_key, fingerprint: row.fingerprint, privateKey };
    return cached;
  }

  return {
    get,
    /** A signed pairing request for the agent with this uuid. */
    async pairingRequest(agentUuid: string, managerUrl: string | null) {
      const key = await get();
      const timestamp = new Date().toISOString();
      const nonce = randomBytes(16).toString('hex');
      const signature = sign(
        null,
        Buffer.from(pairingMessage(agentUuid, timestamp, nonce)),
        key.privateKey,
      ).toString('base64');
      return { public_key: key.publicKey, manager_url: managerUrl, timestamp, nonce, signature };
    },
  };
}

export type ManagerKeyStore = ReturnType<typeof createManagerKeyStore>;
