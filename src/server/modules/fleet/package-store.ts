// The package store without the rest of the manager, for `steward package add|list|remove`:
// the same verification and audit as the upload route.
import type { ModuleContext } from '../module.js';
import { createFleetRepo } from './fleet.repo.js';
import { createFleetService } from './fleet.service.js';
import { createManagerKeyStore } from './manager-key.js';
import { createUpgradeService, type UpgradeService } from './upgrades.service.js';

export function createPackageStore(
  ctx: Pick<ModuleContext, 'db' | 'audit' | 'clock' | 'dataDir' | 'secrets'>,
): Pick<UpgradeService, 'addPackage' | 'removePackage' | 'list'> {
  const repo = createFleetRepo(ctx.db);
  const managerKey = createManagerKeyStore(ctx.db, ctx.secrets);
  const fleet = createFleetService({
    repo,
    audit: ctx.audit,
    clock: ctx.clock,
    secrets: ctx.secrets,
    managerKey,
  });
  return createUpgradeService({
    repo,
    fleet,
    audit: ctx.audit,
    clock: ctx.clock,
    managerKey,
    dataDir: ctx.dataDir,
  });
}
