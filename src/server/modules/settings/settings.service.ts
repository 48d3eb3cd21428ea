// Reads and changes settings sections. A POST names only the fields it changes; secrets are
// sealed (AES-256-GCM) before they are stored and are never returned. Each change is stored and
// audited in one transaction; after the commit the section takes effect (section hooks) and
// host-level sections are handed to the apply hook.

import type { Transactor } from '../../db/transactor.js';
import { type Actor, actorUserId } from '../../shared/actor.js';
import type { SecretBox } from '../../shared/secret-box.js';
import type { AuditService } from '../audit/audit.service.js';
import { SECTIONS, type SectionDef, sectionByName, settingsKey } from './sections.js';
import type { SettingsStore } from './settings.repo.js';

type Doc = Record<string, unknown>;
const SEALED = '_sealed';

export interface SectionHooks {
  /** Validates (and may normalise) the next value before it is stored; throws AppError. */
  prepare?(next: Doc, prev: Doc, patch: Doc): Promise<Doc> | Doc;
  /** Makes a committed value take effect in this process. */
  apply?(value: Doc): Promise<void> | void;
}

export interface SystemSettingsDeps {
  tx: Transactor;
  settings: SettingsStore;
  audit: AuditService;
  secrets: SecretBox;
  hooks: Partial<Record<string, SectionHooks>>;
  /** Hands a host-level section to the apply hook executable. */
  applyHost?(section: string, value: Doc): Promise<void>;
  log?: (msg: string, err?: unknown) => void;
}

export function createSystemSettings(deps: SystemSettingsDeps) {
  async function stored(def: SectionDef): Promise<Doc> {
    return deps.settings.get<Doc>(settingsKey(def.name), { ...def.defaults });
  }

  function publicView(def: SectionDef, doc: Doc): Doc {
    const { [SEALED]: sealed, ...rest } = doc;
    const out: Doc = { ...rest };
    for (const f of def.secrets)
      out[`${f}_set`] = Boolean((sealed as Record<string, string> | undefined)?.[f]);
    return out;
  }

  /** The value with secrets opened, for the code that uses them (mailer, directory). */
  async function internal(name: string): Promise<Doc> {
    const def = sectionByName(name);
    const { [SEALED]: sealed, ...rest } = await stored(def);
    const out: Doc = { ...rest };
    for (const f of def.secrets) {
      const s = (sealed as Record<string, string> | undefined)?.[f];
      out[f] = s ? deps.secrets.open(s) : undefined;
    }
    return out;
  }

  return {
    sections: SECTIONS,
    internal,
    async get(name: string): Promise<Doc> {
      const def = sectionByName(name);
      return publicView(def, await stored(def));
    },

    async update(actor: Actor, name: string, patch: Doc): Promise<Doc> {
      const def = sectionByName(name);
      const prev = await stored(def);
      let next: Doc = { ...prev };
      const sealed: Record<string, string> = {
        ...((prev[SEALED] as Record<string, string> | undefined) ?? {}),
      };
      const changed: string[] = [];
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) continue;
        if (k.endsWith('_set') && def.secrets.includes(k.slice(0, -4))) continue;
        if (def.secrets.includes(k)) {
          if (v === '') delete sealed[k];
          else sealed[k] = deps.secrets.seal(String(v));
          changed.push(k);
          continue;
        }
        if (k === 'reset_ssl') continue; // an action, not a stored value
        next[k] = v;
        changed.push(k);
      }
      next[SEALED] = sealed;
      const hooks = deps.hooks[name];
      if (hooks?.prepare) next = await hooks.prepare(next, prev, patch);
      await deps.tx.transaction(async (trx) => {
        await deps.settings.set(trx, settingsKey(name), next, actorUserId(actor));
        await deps.audit.record(trx, actor, {
          action: `settings.${name}.updated`,
          targetType: 'settings',
          targetId: name,
          summary: `updated ${name} settings${changed.length ? ` (${changed.join(', ')})` : ''}`,
          // Field names only: values may be secrets.
          details: { fields: changed },
          status: 200,
        });
      });
      deps.settings.notifyChanged(settingsKey(name), next);
      const opened = await internal(name);
      try {
        await hooks?.apply?.(opened);
      } catch (err) {
        deps.log?.(`applying ${name} settings failed`, err);
      }
      if (def.effect === 'host' && deps.applyHost) {
        try {
          await deps.applyHost(name, publicView(def, next));
        } catch (err) {
          deps.log?.(`the apply hook failed for ${name}`, err);
        }
      }
      return publicView(def, next);
    },

    /** Re-applies one section from the database (a change made by another replica). */
    async applySection(name: string) {
      const hooks = deps.hooks[name];
      if (!hooks?.apply) return;
      try {
        await hooks.apply(await internal(name));
      } catch (err) {
        deps.log?.(`applying ${name} settings failed`, err);
      }
    },

    /** Re-applies every section from the database (after start, after a restore). */
    async applyAll() {
      for (const def of SECTIONS) {
        const hooks = deps.hooks[def.name];
        if (!hooks?.apply) continue;
        try {
          await hooks.apply(await internal(def.name));
        } catch (err) {
          deps.log?.(`applying ${def.name} settings failed`, err);
        }
      }
    },
  };
}

export type SystemSettings = ReturnType<typeof createSystemSettings>;
