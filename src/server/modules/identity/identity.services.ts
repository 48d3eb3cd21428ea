// What the identity module's routes are given: its services (services.ts builds them).

import type { TokenExportService } from '../tokens/token-export.service.js';
import type { TokenUsageService } from '../tokens/token-usage.service.js';
import type { TokenSettings, TokensService } from '../tokens/tokens.service.js';
import type { IdentityRepo, UserRow } from './identity.repo.js';
import type { SessionsService } from './sessions.service.js';
import type { UsersService } from './users.service.js';

export interface IdentityServices {
  repo: IdentityRepo;
  users: UsersService;
  sessions: SessionsService;
  tokens: TokensService;
  tokenUsage: TokenUsageService;
  tokenExport: TokenExportService;
  tokenSettings: () => TokenSettings;
  /** A user from the authenticator's cache (no database round trip on the hot path). */
  cachedUser: (id: number) => UserRow | undefined | Promise<UserRow | undefined>;
}
