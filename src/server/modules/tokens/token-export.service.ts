// The export of the token list: the rows the caller's list shows (their own tokens; everyone's
// for admins), with the list's filters, order and fields (never a secret or digest: the rows
// go through tokenOut, as the list's do), read a page at a time. Recorded as `token.exported`.

import type { Actor } from '../../shared/actor.js';
import { AppError } from '../../shared/app-error.js';
import { pageBatches } from '../../shared/batches.js';
import type { Clock } from '../../shared/clock.js';
import type { AuditService } from '../audit/audit.service.js';
import type { IdentityRepo, TokenFilter } from '../identity/identity.repo.js';
import { createTokenAccess } from './token-access.js';
import { tokenOut } from './token-output.js';
import type { TokenSettings } from './token-rules.js';

export interface TokenExportDeps {
  repo: IdentityRepo;
  audit: Pick<AuditService, 'recordExport'>;
  clock: Clock;
  tokenSettings: () => TokenSettings;
}

export function createTokenExportService(deps: TokenExportDeps) {
  const { repo, clock } = deps;
  const { isAdmin, namesFor } = createTokenAccess(deps);
  return {
    async exportTokens(
      actor: Actor,
      f: TokenFilter & { owner_id?: number },
      order: Parameters<IdentityRepo['listTokens']>[1],
      format: string,
    ) {
      const p = actor.principal;
      if (!p) throw new AppError({ code: 'unauthenticated', message: 'sign in to export tokens' });
      // The list's rule: others' tokens only for admins (an owner_id of someone else shows yours).
      const filter: TokenFilter = { ...f, ownerId: isAdmin(p) ? f.owner_id : p.userId };
      await deps.audit.recordExport(actor, {
        action: 'token.exported',
        what: 'the token list',
        format,
        filters: { owner_id: f.owner_id, kind: f.kind, search: f.search, include_revoked: f.includeRevoked },
      });
      const pages = pageBatches((offset, size) => repo.listTokens(filter, order, size, offset));
      return (async function* () {
        for await (const rows of pages) {
          const names = await namesFor(rows);
          const now = clock.now();
          yield rows.map((r) => tokenOut(r, now, names));
        }
      })();
    },
  };
}

export type TokenExportService = ReturnType<typeof createTokenExportService>;
