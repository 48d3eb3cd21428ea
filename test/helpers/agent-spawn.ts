// Spawns a real agent process on 127.0.0.1 and reads its start banner (URL, API token).
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

export interface AgentProcess {
  child: ChildProcess;
  url: string;
  token: string | undefined;
  output: string;
  /** Ends the process with the signal and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function spawnAgent(
  args: string[],
  timeoutMs = 20_000,
  env: Record<string, string> = {},
): Promise<AgentProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(HERE, 'agent-process.ts'), 'agent', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '', ...env },
    },
  );
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`agent did not start in time: ${output}`));
    }, timeoutMs);
    let resolved = false;
    const onData = (d: Buffer) => {
      output += d.toString();
      const url = /listening on (\S+)/.exec(output)?.[1];
      if (!url || resolved) return;
      resolved = true;
      // The banner lines are written together; wait a moment so the token line is in too.
      setTimeout(() => {
        clearTimeout(timer);
        resolve({
          child,
          url,
          token: /^API token: (\S+)$/m.exec(output)?.[1],
          output,
          kill: (signal = 'SIGTERM') =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill(signal);
            }),
        });
      }, 100);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!resolved) reject(new Error(`agent exited with ${code}: ${output}`));
    });
  });
}
