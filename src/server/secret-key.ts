// The key for secrets stored encrypted: from STEWARD_SECRET_KEY, or a key file created in the
// data directory on first start (readable by the manager's user only). Back it up with the data.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './shared/files.js';

export function loadSecretKey(dataDir: string, configured: string | undefined): Buffer {
  if (configured) return Buffer.from(configured, 'hex');
  const path = join(dataDir, 'secret.key');
  if (!existsSync(path)) writeFileAtomic(path, randomBytes(32).toString('hex'), 0o600);
  const hex = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${path} is not a 64-hex-character key`);
  return Buffer.from(hex, 'hex');
}
