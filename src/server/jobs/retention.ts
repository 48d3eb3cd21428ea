// The retention job: deletes audit records and the per-token request log older than the
// central logging retention period,
// files older than the file storage TTL, upload chunks abandoned for more than a day, and
// appliance health samples older than their 24 hours.

import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditService } from '../modules/audit/audit.service.js';
import type { FileService } from '../modules/files/files.service.js';
import type { Clock } from '../shared/clock.js';

const DAY = 24 * 60 * 60 * 1000;

export interface RetentionDeps {
  audit: AuditService;
  clock: Clock;
  settings: () => Promise<Record<string, unknown>>;
  files: FileService;
  uploadsDir: string;
  /** The per-token request log (identity's), kept as long as the audit log. */
  tokenRequestLog?: { deleteOlderThan(before: Date): Promise<number> };
  /** Appliance health over time (fleet-health's), kept 24 hours whatever the settings say. */
  healthSamples?: { prune(): Promise<number> };
}

export async function runRetention(
  deps: RetentionDeps,
): Promise<{ auditDeleted: number; filesDeleted: number }> {
  const s = await deps.settings();
  const now = deps.clock.now().getTime();
  let auditDeleted = 0;
  let filesDeleted = 0;
  if (s.central_logging__enable !== false) {
    const days = Number(s.central_logging__retention_period ?? 365);
    const before = new Date(now - days * DAY);
    auditDeleted = await deps.audit.deleteOlderThan(before);
    // A token's request log is part of the trail of who did what: the same period applies.
    await deps.tokenRequestLog?.deleteOlderThan(before);
  }
  if (s.central_file_storage__enable !== false) {
    const hours = Number(s.central_file_storage__ttl ?? 8760);
    filesDeleted = await deps.files.deleteOlderThan(new Date(now - hours * 60 * 60 * 1000));
  }
  await deps.healthSamples?.prune();
  const chunks = join(deps.uploadsDir, '.chunks');
  for (const id of await readdir(chunks).catch(() => [] as string[] /* no chunk folder yet */)) {
    const s2 = await stat(join(chunks, id)).catch(() => undefined); // gone since the listing: nothing to remove
    if (s2 && Date.now() - s2.mtimeMs > DAY) await rm(join(chunks, id), { recursive: true, force: true });
  }
  return { auditDeleted, filesDeleted };
}
