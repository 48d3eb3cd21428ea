// Users and groups: the seed's user API, roles, API-only users, passwords, and what happens to a
// user's credentials when the user is disabled, deleted or changes password.

import type { Role } from '../../db/schema.js';
import type { Transactor, Tx } from '../../db/transactor.js';
import { type Actor, cliActor, systemActor } from '../../shared/actor.js';
import { AppError, badField, conflict, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { Principal } from '../../shared/principal.js';
import type { AuditService } from '../audit/audit.service.js';
import { assertWithinCaller } from '../tokens/credential-policy.js';
import type { AuthenticatorService } from './authenticator.js';
import type { IdentityRepo, UserFilter } from './identity.repo.js';
import { checkPasswordPolicy, generatePassword, hashPassword, verifyPassword } from './passwords.js';
import { type UserOut, userOut } from './user-output.js';

export const REAUTH_WINDOW_MS = 15 * 60 * 1000;

export interface CreateUserInput {
  username: string;
  email?: string;
  first_name?: string;
  last_name?: string;
  password?: string;
  role?: Role;
  api_only?: boolean;
  is_active?: boolean;
  group_id?: number | null;
}

export type UpdateUserInput = Partial<Omit<CreateUserInput, 'username' | 'password'>> & { username?: string };

export interface UsersServiceDeps {
  tx: Transactor;
  repo: IdentityRepo;
  audit: AuditService;
  clock: Clock;
  auth: AuthenticatorService;
}

export function createUsersService(deps: UsersServiceDeps) {
  const { repo, audit, clock, auth } = deps;

  async function mustGet(id: number) {
    const u = await repo.findUserById(id);
    if (!u) throw notFound(`user ${id}`);
    return u;
  }

  async function checkGroup(groupId: number | null | undefined) {
    if (groupId === undefined || groupId === null) return;
    if (!(await repo.findGroupById(groupId))) throw badField('body.group_id', `no group with id ${groupId}`);
  }

  /** Ends sessions and forgets cached credentials of a user (disable, delete, password change). */
  async function dropCredentials(trx: Tx, userId: number, reason: string, exceptSessionId?: number) {
    const ended = await repo.endSessions(trx, { userId, exceptId: exceptSessionId }, reason, clock.now());
    return () => {
      auth.invalidateSession(...ended.map((s) => s.digest));
      auth.invalidateUser(userId);
    };
  }

  /**
   * A role given to a user (or a user enabled again) is a grant of every permission of the role
   * to every credential of that user: the caller must hold them all.
   */
  function grantWithinCaller(actor: Actor, role: Role) {
    const p = actor.principal;
    if (!p) return;
    assertWithinCaller(
      p,
      { ownerId: 0, ownerRole: role, ownerGroupId: null, scopes: null, groupId: null, expiresAt: null },
      { now: clock.now(), maxLifetimeDays: null, lifetime: false },
    );
  }

  return {
    mustGet,

    async list(
      filter: UserFilter,
      order: Parameters<IdentityRepo['listUsers']>[1],
      limit: number,
      offset: number,
    ) {
      const [rows, count] = await Promise.all([
        repo.listUsers(filter, order, limit, offset),
        repo.countUsers(filter),
      ]);
      return { rows, count };
    },

    listGroups: () => repo.listGroups(),

    /** First start: creates the built-in admin (id 1). Returns the password when it was generated. */
    async ensureAdmin(
      password: string | undefined,
    ): Promise<{ created: boolean; generatedPassword?: string }> {
      if ((await repo.countUsersTotal()) > 0) return { created: false };
      const generated = password === undefined ? generatePassword() : undefined;
      const pw = password ?? (generated as string);
      const problem = checkPasswordPolicy(pw, 'admin');
      if (problem)
        throw new AppError({ code: 'validation_failed', message: `STEWARD_ADMIN_PASSWORD ${problem}` });
      const hash = await hashPassword(pw);
      const created = await deps.tx.transaction(async (trx) => {
        // Several managers may start together on one server: one of them creates the admin.
        await repo.lockAdminCreation(trx);
        if ((await repo.countUsersTotal(trx)) > 0) return false;
        const u = await repo.insertUser(trx, {
          username: 'admin',
          password_hash: hash,
          password_changed_at: clock.now(),
          role: 'admin',
          date_joined: clock.now(),
        });
        await audit.record(trx, systemActor('steward'), {
          action: 'user.created',
          targetType: 'user',
          targetId: u.id,
          summary: 'created the built-in admin user',
        });
        return true;
      });
      if (!created) return { created: false };
      return generated ? { created: true, generatedPassword: generated } : { created: true };
    },

    async create(actor: Actor, input: CreateUserInput): Promise<UserOut> {
      const username = input.username.trim();
      if (await repo.findUserByUsername(username))
        throw conflict(`a user named "${username}" already exists`);
      const apiOnly = input.api_only ?? false;
      let hash: string | null = null;
      if (input.password !== undefined) {
        const problem = checkPasswordPolicy(input.password, username);
        if (problem) throw badField('body.password', problem);
        hash = await hashPassword(input.password);
      } else if (!apiOnly) {
        throw badField('body.password', 'is required unless api_only is true');
      }
      await checkGroup(input.group_id);
      grantWithinCaller(actor, input.role ?? 'viewer');
      const u = await deps.tx.transaction(async (trx) => {
        const row = await repo.insertUser(trx, {
          username,
          email: input.email ?? '',
          first_name: input.first_name ?? '',
          last_name: input.last_name ?? '',
          password_hash: hash,
          password_changed_at: hash ? clock.now() : null,
          role: input.role ?? 'viewer',
          api_only: apiOnly,
          is_active: input.is_active ?? true,
          group_id: input.group_id ?? null,
          date_joined: clock.now(),
        });
        await audit.record(trx, actor, {
          action: 'user.created',
          targetType: 'user',
          targetId: row.id,
          status: 201,
          summary: `created user "${row.username}" (${row.role}${row.api_only ? ', API only' : ''})`,
        });
        return row;
      });
      return userOut(u);
    },

    async update(actor: Actor, id: number, input: UpdateUserInput): Promise<UserOut> {
      const current = await mustGet(id);
      const self = actor.principal?.userId === id;
      if (
        input.username !== undefined &&
        input.username.trim().toLowerCase() !== current.username.toLowerCase()
      ) {
        if (id === 1) throw badField('body.username', 'the built-in admin keeps its name');
        if (await repo.findUserByUsername(input.username.trim())) {
          throw conflict(`a user named "${input.username.trim()}" already exists`);
        }
      }
      if (self && (input.is_active === false || (input.role !== undefined && input.role !== current.role))) {
        throw new AppError({
          code: 'forbidden',
          message: 'you cannot disable yourself or change your own role',
        });
      }
      await checkGroup(input.group_id);
      if (
        (input.role !== undefined && input.role !== current.role) ||
        (input.is_active === true && !current.is_active)
      ) {
        grantWithinCaller(actor, input.role ?? current.role);
      }
      let after: (() => void) | undefined;
      const u = await deps.tx.transaction(async (trx) => {
        const row = await repo.updateUser(trx, id, {
          ...(input.username !== undefined ? { username: input.username.trim() } : {}),
          ...(input.email !== undefined ? { email: input.email } : {}),
          ...(input.first_name !== undefined ? { first_name: input.first_name } : {}),
          ...(input.last_name !== undefined ? { last_name: input.last_name } : {}),
          ...(input.role !== undefined ? { role: input.role } : {}),
          ...(input.api_only !== undefined ? { api_only: input.api_only } : {}),
          ...(input.is_active !== undefined ? { is_active: input.is_active } : {}),
          ...(input.group_id !== undefined ? { group_id: input.group_id } : {}),
        });
        if (!row) throw notFound(`user ${id}`);
        if ((await repo.countActiveAdmins(trx)) === 0) {
          throw conflict('this change would leave no active admin');
        }
        if (input.is_active === false && current.is_active) {
          after = await dropCredentials(trx, id, 'user disabled');
        }
        const changed = Object.keys(input).filter((k) => (input as Record<string, unknown>)[k] !== undefined);
        await audit.record(trx, actor, {
          action: input.is_active === false && current.is_active ? 'user.disabled' : 'user.updated',
          targetType: 'user',
          targetId: id,
          status: 200,
          summary: `updated user "${row.username}": ${changed.join(', ')}`,
          details: { fields: changed },
        });
        return row;
      });
      after?.();
      auth.invalidateUser(id);
      return userOut(u);
    },

    async remove(actor: Actor, id: number): Promise<void> {
      const current = await mustGet(id);
      if (actor.principal?.userId === id) {
        throw new AppError({ code: 'forbidden', message: 'you cannot delete yourself' });
      }
      let after: (() => void) | undefined;
      const revoked = await deps.tx.transaction(async (trx) => {
        await repo.updateUser(trx, id, { deleted_at: clock.now(), is_active: false });
        if ((await repo.countActiveAdmins(trx)) === 0)
          throw conflict('deleting this user would leave no active admin');
        after = await dropCredentials(trx, id, 'user deleted');
        const tokens = await repo.revokeTokensOf(trx, id, 'owner deleted', clock.now());
        await audit.record(trx, actor, {
          action: 'user.deleted',
          targetType: 'user',
          targetId: id,
          status: 204,
          summary: `deleted user "${current.username}"; revoked ${tokens.length} token(s)`,
        });
        return tokens;
      });
      after?.();
      for (const t of revoked) auth.invalidateToken(t.digest, t.previous_digest);
    },

    /**
     * Sets a password. For yourself: needs the current password, unless this session was opened
     * by a password login in the last 15 minutes; an API token can never change its owner's
     * password. For another user: needs users:write. Ends the user's other sessions.
     */
    async setPassword(
      actor: Actor,
      principal: Principal,
      id: number,
      password: string,
      currentPassword: string | undefined,
    ): Promise<void> {
      const target = await mustGet(id);
      const self = principal.userId === id;
      if (self) {
        if (principal.method !== 'session') {
          throw new AppError({
            code: 'forbidden',
            message: "an API token cannot change its owner's password; log in with the password instead",
          });
        }
        const recent =
          principal.passwordLoginAt !== undefined &&
          clock.now().getTime() - principal.passwordLoginAt.getTime() <= REAUTH_WINDOW_MS;
        if (!recent) {
          if (currentPassword === undefined) {
            throw badField(
              'body.current_password',
              'is required: this session was opened more than 15 minutes ago',
            );
          }
          if (!target.password_hash || !(await verifyPassword(target.password_hash, currentPassword))) {
            throw badField('body.current_password', 'is not the current password');
          }
        }
      } else if (!principal.permissions.has('users:write')) {
        throw new AppError({
          code: principal.method === 'session' ? 'forbidden' : 'insufficient_scope',
          message: "permission users:write is required to set another user's password",
          details: { required_permission: 'users:write' },
        });
      } else {
        // Whoever knows the password logs in with all of the user's permissions: the caller
        // must hold them all (a users:write-only token cannot take over an admin account).
        assertWithinCaller(
          principal,
          {
            ownerId: target.id,
            ownerRole: target.role,
            ownerGroupId: target.group_id,
            scopes: null,
            groupId: null,
            expiresAt: null,
          },
          { now: clock.now(), maxLifetimeDays: null, lifetime: false },
        );
      }
      const problem = checkPasswordPolicy(password, target.username);
      if (problem) throw badField('body.password', problem);
      const hash = await hashPassword(password);
      let after: (() => void) | undefined;
      await deps.tx.transaction(async (trx) => {
        await repo.updateUser(trx, id, { password_hash: hash, password_changed_at: clock.now() });
        after = await dropCredentials(trx, id, 'password changed', self ? principal.sessionId : undefined);
        await audit.record(trx, actor, {
          action: 'user.password_changed',
          targetType: 'user',
          targetId: id,
          status: 200,
          summary: self ? 'changed own password' : `set the password of "${target.username}"`,
        });
      });
      after?.();
    },

    /** `steward admin reset-password`: the way back in when the admin password is lost. */
    async resetPasswordFromCli(username: string, password: string | undefined) {
      const user = await repo.findUserByUsername(username);
      if (!user) throw notFound(`user "${username}"`);
      const pw = password ?? generatePassword();
      const problem = checkPasswordPolicy(pw, user.username);
      if (problem) throw new AppError({ code: 'validation_failed', message: `password ${problem}` });
      const hash = await hashPassword(pw);
      await deps.tx.transaction(async (trx) => {
        await repo.updateUser(trx, user.id, {
          password_hash: hash,
          password_changed_at: clock.now(),
          is_active: true,
        });
        await repo.endSessions(trx, { userId: user.id }, 'password reset', clock.now());
        await audit.record(trx, cliActor(), {
          action: 'user.password_reset',
          targetType: 'user',
          targetId: user.id,
          summary: `reset the password of "${user.username}" from the command line`,
        });
      });
      return { username: user.username, password: password === undefined ? pw : undefined };
    },

    async createGroup(actor: Actor, name: string, description: string) {
      const g = await deps.tx.transaction(async (trx) => {
        const row = await repo.insertGroup(trx, { name: name.trim(), description });
        await audit.record(trx, actor, {
          action: 'group.created',
          targetType: 'group',
          targetId: row.id,
          status: 201,
          summary: `created group "${row.name}"`,
        });
        return row;
      });
      return g;
    },

    async deleteGroup(actor: Actor, id: number) {
      const g = await repo.findGroupById(id);
      if (!g) throw notFound(`group ${id}`);
      await deps.tx.transaction(async (trx) => {
        await repo.deleteGroup(trx, id);
        await audit.record(trx, actor, {
          action: 'group.deleted',
          targetType: 'group',
          targetId: id,
          status: 204,
          summary: `deleted group "${g.name}"`,
        });
      });
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
