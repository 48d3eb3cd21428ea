// The fleet module: filled in by its own change. Registers no routes yet.
import type { ModuleContext, StewardModule } from '../module.js';

export function createFleetModule(_ctx: ModuleContext): StewardModule {
  return { routes: async () => {} };
}
