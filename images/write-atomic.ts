/**
 * Replacing a small file whole: the text goes to a temp file in the same directory (created
 * with `mode`, O_EXCL), is fsync'd and renamed over `path` (rename(2) is atomic within a
 * filesystem), so a reader sees the old file or the new one, never a part. On failure the temp
 * file is removed and the error passed on for the caller to name.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';

export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}
