// The permission catalog. Every route declares one permission (or `public` / `authenticated`);
// a principal's effective permissions are its role's, narrowed by its token's scopes.

export const AREAS = [
  'users',
  'tokens',
  'sessions',
  'audit',
  'appliances',
  'configuration',
  'system',
  'backup',
  'files',
  'license',
  'upgrades',
  'cluster',
] as const;
export type Area = (typeof AREAS)[number];

export const PERMISSIONS = AREAS.flatMap((a) => [`${a}:read`, `${a}:write`] as const);
export type Permission = `${Area}:read` | `${Area}:write`;

/** What a route needs: a permission, any signed-in principal, or nothing at all. */
export type RouteAccess = Permission | 'authenticated' | 'public';

export const ROLES = ['admin', 'operator', 'viewer'] as const;
export type RoleName = (typeof ROLES)[number];

const all = (kind: 'read' | 'write') => AREAS.map((a) => `${a}:${kind}` as Permission);

/**
 * Role grants. Operators run the fleet (appliances, configuration, files, upgrades) and manage
 * their own tokens and sessions; viewers only read. Users, audit, system settings, backup,
 * licence and cluster writes are admin-only, and so is reading the audit log (everyone's
 * activity: least privilege). Backups are admin-only even to read: an archive holds every
 * secret of the manager (docs/administration.md, "Backups"). Object-level rules (own tokens
 * only) live in the services. docs/authentication.md shows this as a table generated from it
 * (scripts/permission-table.ts).
 */
export const ROLE_PERMISSIONS: Record<RoleName, ReadonlySet<Permission>> = {
  admin: new Set([...all('read'), ...all('write')]),
  operator: new Set<Permission>([
    ...all('read').filter((p) => p !== 'audit:read' && p !== 'backup:read'),
    'tokens:write',
    'sessions:write',
    'appliances:write',
    'configuration:write',
    'files:write',
    'upgrades:write',
  ]),
  viewer: new Set<Permission>([
    'tokens:read',
    'sessions:read',
    // Everyone may end their own sessions; the service limits it to their own.
    'sessions:write',
    'appliances:read',
    'configuration:read',
    'files:read',
    'upgrades:read',
    'license:read',
    'system:read',
  ]),
};

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}
