// Configuration flags shared by every `steward` command that reads the manager's configuration:
// each setting of config.ts is a --flag, and its STEWARD_* variable works too.
import { type Command, Option } from 'commander';
import { type Config, loadConfig, SETTINGS } from '../server/config/config.js';

/** Adds the settings (all, or the named ones) as --flags. */
export function withConfigFlags(cmd: Command, keys?: readonly (keyof Config)[]): Command {
  for (const s of SETTINGS) {
    if (keys && !keys.includes(s.key)) continue;
    cmd.addOption(new Option(`${s.flag} <value>`, `${s.description} [env: ${s.env}]`));
  }
  return cmd;
}

/** The Config from the environment, overridden by the command's flags. */
export function configFrom(opts: Record<string, unknown>): Config {
  const flags: Partial<Record<keyof Config, string>> = {};
  for (const s of SETTINGS) {
    const name = s.flag.replace(/^--/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    const v = opts[name];
    if (typeof v === 'string') flags[s.key] = v;
  }
  return loadConfig(process.env, flags);
}
