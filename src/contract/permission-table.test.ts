// The role and permission table in docs/authentication.md is what the catalogue generates:
// change ROLE_PERMISSIONS and this fails until `npx tsx scripts/permission-table.ts` is run.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  permissionBlock,
  renderPermissionTable,
  TABLE_END,
  tableIn,
  updatePermissionTable,
} from './permission-table.js';
import { AREAS, ROLE_PERMISSIONS, ROLES } from './permissions.js';

const docsDir = join(import.meta.dirname, '..', '..', 'docs');
const doc = (name: string) => readFileSync(join(docsDir, name), 'utf8');

describe('the permission table of the documentation', () => {
  it('in docs/authentication.md and docs/api-conventions.md is the one the catalogue generates', () => {
    for (const name of ['authentication.md', 'api-conventions.md']) {
      expect(tableIn(doc(name)), `docs/${name} has no permission-table markers`).toBeDefined();
    }
    // Every document that carries the table (docs/security.md may, too) is checked.
    for (const name of readdirSync(docsDir).filter((n) => n.endsWith('.md'))) {
      const table = tableIn(doc(name));
      if (table === undefined) continue;
      expect(table, `docs/${name}: run \`npx tsx scripts/permission-table.ts\``).toBe(permissionBlock());
    }
  });

  it('shows exactly each role’s grants, area by area', () => {
    const lines = renderPermissionTable().split('\n').slice(2);
    expect(lines).toHaveLength(AREAS.length);
    AREAS.forEach((area, i) => {
      const cells = (lines[i] as string).split('|').map((c) => c.trim());
      expect(cells[1]).toBe(`\`${area}\``);
      ROLES.forEach((role, j) => {
        const want = (['read', 'write'] as const).filter((k) => ROLE_PERMISSIONS[role].has(`${area}:${k}`));
        expect(cells[3 + j], `${role} ${area}`).toBe(want.length ? want.join(', ') : '—');
      });
    });
  });

  it('reading the audit log is for admins only', () => {
    expect(ROLES.filter((r) => ROLE_PERMISSIONS[r].has('audit:read'))).toEqual(['admin']);
  });

  it('replaces only the block between the markers', () => {
    const stale = `intro\n\n${permissionBlock().replace('read, write', 'read')}\n\noutro\n`;
    const fixed = updatePermissionTable(stale);
    expect(fixed).toBe(`intro\n\n${permissionBlock()}\n\noutro\n`);
    expect(updatePermissionTable('no markers here')).toBe('no markers here');
    expect(tableIn(`${TABLE_END} before the start`)).toBeUndefined();
  });
});
