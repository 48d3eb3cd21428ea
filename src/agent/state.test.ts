// The agent's event log is written in the background: a write that fails is told to the
// agent's logger, and the events stay in memory for the next write.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openAgentState } from './state.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('agent event log', () => {
  it('logs an event log it could not write and keeps the events', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'steward-agent-state-'));
    dirs.push(dataDir);
    const { state } = openAgentState({ dataDir, type: 'tiscale-worker', defaultRelease: '5.3.0' });
    const lines: { obj: object; msg: string }[] = [];
    state.logTo({ warn: (obj, msg) => lines.push({ obj, msg }) });
    // A directory where the file goes: the rename into place fails, whoever runs the test.
    mkdirSync(join(dataDir, 'events.json'));
    state.addEvent({ kind: 'agent.started', severity: 'info', message: 'started' });
    await state.flush();
    expect(lines).toHaveLength(1);
    expect(lines[0]?.msg).toBe(
      'could not write the event log (events.json); the events stay in memory until the next write',
    );
    expect((lines[0]?.obj as { err?: Error } | undefined)?.err).toBeInstanceOf(Error);
    expect(state.events(0, 10).map((e) => e.kind)).toEqual(['agent.started']);
  });
});
