// Which tokens a principal sees and manages, and the user names a token's output shows. Shared
// by the tokens service and the refresh of a token (token-refresh.ts).

import type { TokenRestrictions } from '../../db/schema.js';
import { AppError, notFound } from '../../shared/app-error.js';
import type { Principal } from '../../shared/principal.js';
import type { IdentityRepo, TokenRow, UserRow } from '../identity/identity.repo.js';
import { tokenOut, type UserNames } from './token-output.js';
import type { TokenSettings } from './token-rules.js';

export interface TokenAccessDeps {
  repo: IdentityRepo;
  tokenSettings: () => TokenSettings;
}

export function createTokenAccess(deps: TokenAccessDeps) {
  const { repo } = deps;
  const isAdmin = (p: Principal) => p.permissions.has('users:write');

  /** Owners and restricting admins of some tokens, looked up once each. */
  async function namesFor(rows: TokenRow[]): Promise<UserNames> {
    const ids = new Set<number>();
    for (const r of rows) {
      ids.add(r.owner_id);
      for (const e of Object.values(r.restrictions ?? {})) if (e) ids.add(e.set_by);
    }
    const found = new Map<number, UserRow>();
    for (const id of ids) {
      const u = await repo.findUserById(id);
      if (u) found.set(id, u);
    }
    return (id) => found.get(id);
  }

  return {
    isAdmin,
    namesFor,

    assertMayManage(p: Principal) {
      if (!isAdmin(p) && !deps.tokenSettings().user_defined_tokens) {
        throw new AppError({
          code: 'forbidden',
          message: 'user-defined tokens are turned off on this manager: only admins create and change tokens',
        });
      }
    },

    /** A token the principal may see: its own, or any for admins. Others' are "not found". */
    async visible(p: Principal, id: number): Promise<TokenRow> {
      const t = await repo.findTokenById(id);
      if (!t || (t.owner_id !== p.userId && !isAdmin(p))) throw notFound(`token ${id}`);
      return t;
    },

    async out(row: TokenRow, now: Date) {
      return tokenOut(row, now, await namesFor([row]));
    },

    /** The names of the admins who restricted a token, for the refusal that names them. */
    async adminNames(r: TokenRestrictions) {
      const names = new Map<number, string>();
      for (const e of Object.values(r)) {
        if (e && !names.has(e.set_by))
          names.set(e.set_by, (await repo.findUserById(e.set_by))?.username ?? `#${e.set_by}`);
      }
      return (id: number) => names.get(id) ?? `#${id}`;
    },
  };
}

export type TokenAccess = ReturnType<typeof createTokenAccess>;
