// Individual configuration: a Spectra Analyze (a1000) in no group is configured on its own,
// with its own revisions. Part of the configuration service (config.service.ts), which carries
// these methods and hands over what they share with groups.

import type { ConfigContent } from '../../../contract/fleet-fields.js';
import type { DbHandle, Transactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { AppError, badField, conflict } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { SecretBox } from '../../shared/secret-box.js';
import type { AuditService } from '../audit/audit.service.js';
import type { FleetService } from '../fleet/fleet.service.js';
import {
  assertValidContent,
  DESTINATION_LISTS_FIELD,
  mergeContent,
  publicContent,
} from './config.content.js';
import type { ConfigRepo } from './config.repo.js';
import type { Rollout } from './config.rollout.js';

export interface IndividualConfigDeps {
  configRepo: ConfigRepo;
  tx: Transactor;
  fleet: FleetService;
  audit: AuditService;
  clock: Clock;
  secrets: SecretBox;
  startApply: Rollout['startApply'];
  /** From the configuration service: stores a revision (every save is one). */
  saveRevision: (
    trx: DbHandle,
    createdBy: string | null,
    where: { applianceId: number },
    revision: number,
    content: ConfigContent,
  ) => Promise<void>;
}

export function createIndividualConfig(deps: IndividualConfigDeps) {
  const { configRepo, tx, fleet, audit, clock, secrets, startApply, saveRevision } = deps;
  return {
    async saveIndividual(actor: Actor, id: number, content: ConfigContent, mode: 'put' | 'patch') {
      if (DESTINATION_LISTS_FIELD in content) {
        // Spectra Analyze takes no destinations fields; lists are for worker and hub groups.
        throw badField(
          `body.content.${DESTINATION_LISTS_FIELD}`,
          'destination lists apply to worker and hub groups only',
        );
      }
      assertValidContent(content);
      return tx.transaction(async (trx) => {
        const row = await fleet.mustGet(id, trx);
        if (row.type !== 'a1000') {
          throw new AppError({
            code: 'validation_failed',
            message: 'individual configuration is for Spectra Analyze (a1000) appliances only',
            errors: [
              { field: 'path.appliance_id', message: `is a ${row.type}; configure it through a group` },
            ],
          });
        }
        if (row.group_id !== null)
          throw conflict(`appliance ${row.name} is in group ${row.group_name}; its group configures it`);
        const next = mergeContent(row.individual_content ?? {}, content, mode, secrets);
        const revision = row.individual_revision + 1;
        await configRepo.setIndividualContent(trx, id, next, revision, clock.now());
        await saveRevision(trx, actor.principal?.username ?? null, { applianceId: id }, revision, next);
        await audit.record(trx, actor, {
          action: 'appliance.configuration_saved',
          targetType: 'appliance',
          targetId: id,
          summary: `saved configuration revision ${revision} for ${row.name}`,
          status: 200,
          details: { fields: Object.keys(content), mode },
        });
        return {
          id,
          name: row.name,
          revision,
          content: publicContent(next),
          configuration_status: 'changes_awaiting_apply',
        };
      });
    },

    async applyIndividual(actor: Actor, id: number) {
      const row = await fleet.mustGet(id);
      if (row.type !== 'a1000')
        throw badField('path.appliance_id', `is a ${row.type}; apply through its group`);
      if (row.group_id !== null)
        throw conflict(`appliance ${row.name} is in group ${row.group_name}; apply the group`);
      if (row.individual_content === null)
        throw conflict(`appliance ${row.name} has no saved configuration to apply`);
      if (!row.authorized) throw conflict(`appliance ${row.name} is not authorized`);
      return startApply(
        actor,
        [row],
        { applianceId: id, revision: row.individual_revision },
        `configuration of ${row.name}`,
      );
    },
  };
}
