// Host-level settings (NTP, SSH daemon, SNMP agent) belong to the operating system, not to
// Steward. After such a change Steward runs the apply hook, an executable named in the server
// configuration (never in the API: that would let an API caller choose what runs), with the
// section name as its argument and the section's JSON (no secrets) on standard input.

import { spawn } from 'node:child_process';

export function createApplyHook(executable: string | undefined, timeoutMs = 60_000) {
  if (!executable) return undefined;
  return (section: string, value: Record<string, unknown>) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(executable, [section], { stdio: ['pipe', 'ignore', 'pipe'], timeout: timeoutMs });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => {
        if (stderr.length < 4000) stderr += c.toString('utf8');
      });
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0
          ? resolve()
          : reject(new Error(`apply hook exited with ${code}: ${stderr.trim().slice(0, 500)}`)),
      );
      child.stdin.end(JSON.stringify({ section, value }));
    });
}
