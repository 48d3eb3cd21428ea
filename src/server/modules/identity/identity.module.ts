// The identity module: users, sessions, API tokens, and the authenticator every request uses.

import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { isPermission } from '../../../contract/permissions.js';
import type { ClusterBus } from '../../db/notify.js';
import type { Transactor } from '../../db/transactor.js';
import { redactUrlForLog, routeOf } from '../../http/conventions.js';
import type { Clock } from '../../shared/clock.js';
import type { AuditService } from '../audit/audit.service.js';
import type { SettingsStore } from '../settings/settings.repo.js';
import { createTokenUsageService } from '../tokens/token-usage.service.js';
import { tokensRoutes } from '../tokens/tokens.routes.js';
import {
  createTokensService,
  DEFAULT_TOKEN_SETTINGS,
  TOKEN_SETTINGS_KEY,
  type TokenSettings,
} from '../tokens/tokens.service.js';
import { authRoutes } from './auth.routes.js';
import { type AuthSettings, createAuthenticator, type Invalidation } from './authenticator.js';
import { createIdentityRepo } from './identity.repo.js';
import type { IdentityServices } from './identity.services.js';
import { createSessionsService, type DirectoryAuthenticator } from './sessions.service.js';
import { usersRoutes } from './users.routes.js';
import { createUsersService } from './users.service.js';

export type { IdentityServices };

export interface IdentityDeps {
  tx: Transactor;
  audit: AuditService;
  settings: SettingsStore;
  clock: Clock;
  sessionIdleSeconds: number;
  sessionMaxSeconds: number;
  /** Requests per minute of one user's login sessions together. */
  sessionRateLimitPerMinute?: number;
  /** The bus to other replicas, so credentials changed here are dropped there too. */
  bus?: ClusterBus;
  /** Directory (LDAP) logins for users that are not local; absent: password logins only. */
  directory?: DirectoryAuthenticator;
}

const FLUSH_MS = 1000;

export function createIdentity(deps: IdentityDeps) {
  const repo = createIdentityRepo(deps.tx.direct);
  let settings: TokenSettings = { ...DEFAULT_TOKEN_SETTINGS };
  // What authentication needs of the settings, made once per change (not once per request):
  // the authenticator reuses a token's principal while this object stays the same.
  let authSettings: AuthSettings;
  const setSettings = (next: TokenSettings) => {
    settings = next;
    authSettings = {
      allowTokensInUrl: settings.allow_tokens_in_url,
      defaultRateLimitPerMinute: settings.default_rate_limit_per_minute,
      sessionRateLimitPerMinute: deps.sessionRateLimitPerMinute ?? 1200,
    };
  };
  setSettings(settings);
  const tokenSettings = () => settings;
  const loadSettings = async () => {
    setSettings(await deps.settings.get(TOKEN_SETTINGS_KEY, DEFAULT_TOKEN_SETTINGS));
  };
  deps.settings.onChange((key, value) => {
    if (key === TOKEN_SETTINGS_KEY)
      setSettings({ ...DEFAULT_TOKEN_SETTINGS, ...(value as Partial<TokenSettings>) });
  });
  const auth = createAuthenticator({
    repo,
    clock: deps.clock,
    sessionIdleSeconds: deps.sessionIdleSeconds,
    broadcast: deps.bus
      ? (what) => {
          deps.bus?.publish('identity.invalidate', { ...what }).catch(() => {});
        }
      : undefined,
    authSettings: () => authSettings,
  });
  deps.bus?.subscribe('identity.invalidate', (data) => auth.applyRemote(data as Invalidation));
  deps.bus?.onResync(() => {
    auth.clearAll();
    // The bus reconnects when the server is back but the pool may still fail (a busy or
    // restarting server): keep the settings held until the next resync or change. Unhandled,
    // this rejection ended the process (found by the cluster test).
    loadSettings().catch(() => {});
  });
  const common = { tx: deps.tx, repo, audit: deps.audit, clock: deps.clock, auth };
  const tokens = createTokensService({
    ...common,
    settings: deps.settings,
    tokenSettings,
  });
  const services: IdentityServices = {
    repo,
    users: createUsersService(common),
    sessions: createSessionsService({
      ...common,
      directory: deps.directory,
      sessionIdleSeconds: deps.sessionIdleSeconds,
      sessionMaxSeconds: deps.sessionMaxSeconds,
    }),
    tokens,
    tokenUsage: createTokenUsageService({ repo, clock: deps.clock, auth, tokens }),
    tokenSettings,
    cachedUser: (id) => auth.userOf(id),
  };

  let timer: NodeJS.Timeout | undefined;
  const routes: FastifyPluginAsync = async (app) => {
    await loadSettings();
    await app.register(authRoutes, services);
    await app.register(usersRoutes, services);
    await app.register(tokensRoutes, services);
    timer = setInterval(() => {
      auth.flush().catch((err) => app.log.warn({ err }, 'could not record token use'));
    }, FLUSH_MS);
    timer.unref();
  };

  /**
   * The per-token request log (GET /api/v1/tokens/{id}/activity/) and the per-permission counts
   * (GET /api/v1/tokens/{id}/usage/). Installed on the root instance by app.ts, so it sees every
   * request of every module, reads included; inside this module's plugin it saw only identity
   * routes (issue 13 §6). Cheap on the hot path: an object pushed to an array and one map
   * update, written in batches by the flush timer.
   */
  function installRequestLog(app: FastifyInstance) {
    app.addHook('onResponse', (request, reply, done) => {
      done();
      const p = request.principal;
      const tokenId = p?.tokenId;
      if (tokenId === undefined || p === null) return;
      const at = deps.clock.now();
      auth.recordActivity(tokenId, () => ({
        token_id: tokenId,
        at,
        method: request.method,
        // The path can carry a secret (`;token=`, a pasted token): stored as the logs show it.
        path: redactUrlForLog(request.url.split('?')[0] ?? '').slice(0, 500),
        status: reply.statusCode,
        ip: request.ip,
        request_id: String(request.id),
      }));
      // The permission the route requires (the route table's), counted when the token had it.
      const permission = routeOf(request).config?.permission;
      if (permission !== undefined && isPermission(permission) && p.permissions.has(permission)) {
        auth.recordScopeUse(tokenId, permission, at);
      }
    });
  }

  return {
    installRequestLog,
    authenticator: auth.authenticator,
    services,
    routes,
    flush: () => auth.flush(),
    /** Retention: deletes token request-log rows and scope counts older than `before`. */
    deleteRequestLogBefore: (before: Date) => repo.deleteRequestLogBefore(before),
    /** Drops every cached credential on every replica (after a restore). */
    forgetAll: () => auth.forgetEverywhere(),
    async stop() {
      if (timer) clearInterval(timer);
      await auth.flush().catch(() => {});
    },
  };
}
