/**
 * Writing a file only its owner may read: through a temporary file (0600) and a rename, so a reader never
 * sees half a file, in a directory created 0700. Tokens and the CLI's profile are written this way.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function writePrivateFile(
  file: string,
  text: string,
  options: { posix?: boolean } = {},
): Promise<void> {
  const posix = options.posix ?? process.platform !== 'win32';
  const dir = dirname(file);
  const existed = await stat(dir).then(
    () => true,
    () => false,
  );
  // An existing directory (e.g. shared with other settings) keeps its mode.
  if (!existed) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (posix) await chmod(dir, 0o700);
  }
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    try {
      // The mode given to open() is filtered by the umask; make sure it is exactly 0600.
      if (posix) await handle.chmod(0o600);
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  // Make the rename itself durable where the platform lets a directory be synced.
  if (posix) {
    const dirHandle = await open(dir, 'r').catch(() => undefined);
    await dirHandle
      ?.sync()
      .catch(() => undefined)
      .finally(() => dirHandle.close());
  }
}
