// The package store without the rest of the manager, for `steward package add|list|remove`:
// the same verification and audit as the upload route.
import { createTransactor } from '../../db/transactor.js';
import { createFleetCore } from '../fleet/fleet.service.js';
import type { ModuleContext } from '../module.js';
import { createPackagesRepo } from './packages.repo.js';
import { createUpgradesRepo } from './upgrades.repo.js';
import { createUpgradeService, type UpgradeService } from './upgrades.service.js';

export function createPackageStore(
  ctx: Pick<ModuleContext, 'db' | 'audit' | 'clock' | 'dataDir' | 'secrets'>,
): Pick<UpgradeService, 'addPackage' | 'removePackage' | 'list'> {
  const { repo, managerKey, fleet } = createFleetCore(ctx);
  return createUpgradeService({
    tx: createTransactor(ctx.db),
    repo,
    upgradesRepo: createUpgradesRepo(),
    packagesRepo: createPackagesRepo(),
    fleet,
    audit: ctx.audit,
    clock: ctx.clock,
    managerKey,
    dataDir: ctx.dataDir,
  });
}
