// File writes that never leave a half-written file under the final name: write a temporary
// sibling, fsync it, rename it over the target, fsync the directory.

import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export const tempSibling = (path: string) =>
  join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);

export async function fsyncDir(dir: string) {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

export async function atomicWrite(path: string, data: Buffer | string, mode = 0o644) {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  const h = await open(tmp, 'wx', mode);
  try {
    await h.writeFile(data);
    await h.sync();
  } catch (err) {
    await h.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await h.close();
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

/** Renames a finished temporary file into place durably. */
export async function commitFile(tmp: string, path: string) {
  const h = await open(tmp, 'r+');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}
