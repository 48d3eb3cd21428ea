// Who an authenticated request acts as. Built by the identity module from a credential; read by
// the HTTP layer (permission checks) and, through an Actor, by the services.

import type { Permission } from '../../contract/permissions.js';

export type CredentialSource =
  | 'authorization_token'
  | 'authorization_bearer'
  | 'api_key_header'
  | 'x_token_id'
  | 'x_auth_token'
  | 'cookie'
  | 'query';

export type AuthMethod = 'session' | 'api_token' | 'api_key';

export interface Principal {
  userId: number;
  username: string;
  role: 'admin' | 'operator' | 'viewer';
  /** Effective permissions: role narrowed by token scopes. */
  permissions: ReadonlySet<Permission>;
  method: AuthMethod;
  credentialSource: CredentialSource;
  tokenId?: number;
  sessionId?: number;
  groupId?: number | null;
  /** When the session was opened by a password login (for re-authentication windows). */
  passwordLoginAt?: Date;
  /** Token defaults applied to uploads made with it. */
  defaultTags?: string[];
  defaultProfile?: string | null;
  /** Per-minute request budget for this principal, if any. */
  rateLimitPerMinute?: number | null;
  /** When the token making the request expires (null: never); bounds what it may issue. */
  expiresAt?: Date | null;
  /** The request used a token's previous secret, in its rotation grace period. */
  replacedSecret?: boolean;
}
