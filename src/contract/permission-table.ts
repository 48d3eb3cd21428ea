// The role and permission table of the documentation, generated from the permission catalogue
// (permissions.ts), so that docs and code cannot drift. `npx tsx scripts/permission-table.ts`
// rewrites the table between the markers in every docs/*.md that has them; a unit test fails
// when a document's table differs from what the catalogue generates.
import { AREAS, type Area, type Permission, ROLE_PERMISSIONS, ROLES, type RoleName } from './permissions.js';

export const TABLE_BEGIN =
  '<!-- permission-table:begin: generated from src/contract/permissions.ts by `npx tsx scripts/permission-table.ts`; do not edit by hand -->';
export const TABLE_END = '<!-- permission-table:end -->';

/** What each area covers. A Record over Area: a new area does not compile without its line. */
export const AREA_SUMMARIES: Record<Area, string> = {
  users: 'users, groups, unlocking logins',
  tokens: 'API tokens and per-user API keys (other users’ ones: admins only)',
  sessions: 'login sessions (other users’ ones: admins only)',
  audit: 'the audit log: everyone’s activity',
  appliances: 'the fleet: appliances, pairing, connectors, licences and certificates on them',
  configuration: 'configuration groups and their rollout',
  system: 'manager settings (`/api/v1/config/…`: SMTP, directory, tokens) and system uploads',
  backup: 'backups: list, download, create, restore',
  files: 'uploaded files',
  license: 'the manager’s licence',
  upgrades: 'packages and upgrades',
  cluster: 'the redundant cluster',
};

function cell(role: RoleName, area: Area): string {
  const granted = ROLE_PERMISSIONS[role];
  const kinds = (['read', 'write'] as const).filter((k) => granted.has(`${area}:${k}` as Permission));
  return kinds.length === 0 ? '—' : kinds.join(', ');
}

function row(cells: string[], widths: number[]): string {
  return `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
}

/** The table: one row per area, one column per role. */
export function renderPermissionTable(): string {
  const header = ['area', 'covers', ...ROLES];
  const rows = AREAS.map((area) => [`\`${area}\``, AREA_SUMMARIES[area], ...ROLES.map((r) => cell(r, area))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [
    row(header, widths),
    row(
      widths.map((w) => '-'.repeat(w)),
      widths,
    ),
    ...rows.map((r) => row(r, widths)),
  ].join('\n');
}

/** The generated block, markers included. */
export function permissionBlock(): string {
  return `${TABLE_BEGIN}\n\n${renderPermissionTable()}\n\n${TABLE_END}`;
}

/** The text between the markers (undefined without both markers). */
export function tableIn(doc: string): string | undefined {
  const begin = doc.indexOf(TABLE_BEGIN);
  const end = doc.indexOf(TABLE_END);
  if (begin === -1 || end === -1 || end < begin) return undefined;
  return doc.slice(begin, end + TABLE_END.length);
}

/** The document with its generated block replaced by the current one (unchanged without markers). */
export function updatePermissionTable(doc: string): string {
  const current = tableIn(doc);
  return current === undefined ? doc : doc.replace(current, () => permissionBlock());
}
