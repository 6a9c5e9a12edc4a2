/**
 * The 3PL's "API" is a pair of folders (a mounted SFTP share in production):
 *   outbound/   we write order, cancel and return files; written as `.tmp-*` then renamed, so the
 *               3PL never picks up half a file
 *   inbound/    the 3PL drops confirmation (SHP_) and stock (STK_) files
 *   processed/  inbound files we have turned into milestones (moved there, never read again)
 *   error/      inbound files we could not read, with a `<name>.error.txt` saying why
 *   sent/       a copy of every file we handed over (what makes a retry a no-op)
 * A ledger of content hashes in processed/.ledger keeps a file re-dropped under another name from
 * being processed twice. Folder convention after https://docs.mulesoft.com/manufacturing/latest/sftp-setup-guide
 * (inbox, archive and error folders); write-then-rename instead of the `.complete` marker files of
 * https://docs.oracle.com/en/industries/retail/store-inventory-op-cloud/19.9/reiag/appendix-sftp-file-directory-and-filename-format.htm
 */
import { createHash } from 'node:crypto';
import { appendFile, copyFile, mkdir, readdir, readFile, rename, stat, writeFile, open } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PartnerError } from '../types.ts';

export const FOLDERS = ['outbound', 'inbound', 'processed', 'error', 'sent'] as const;

export class FileExchange {
  private ledger?: Set<string>;
  constructor(readonly root: string) {}

  async ensure(): Promise<void> {
    try {
      for (const f of FOLDERS) await mkdir(join(this.root, f), { recursive: true });
    } catch (cause) {
      throw new PartnerError('retryable', `file share not available at ${this.root}`, { cause });
    }
  }

  /** Writes `outbound/<name>` atomically, once: a name already sent is not written again. */
  async put(name: string, content: string): Promise<{ written: boolean }> {
    await this.ensure();
    const target = join(this.root, 'outbound', name);
    if (existsSync(join(this.root, 'sent', name))) return { written: false };
    const tmp = join(this.root, 'outbound', `.tmp-${name}`);
    try {
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(content, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, target);
      await copyFile(target, join(this.root, 'sent', name)).catch(async (e) => {
        // The 3PL may already have taken the file; keep our copy from the content we wrote.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') await writeFile(join(this.root, 'sent', name), content);
        else throw e;
      });
    } catch (cause) {
      throw new PartnerError('retryable', `could not write ${name} to the 3PL share: ${(cause as Error).message}`, { cause });
    }
    return { written: true };
  }

  /** Complete inbound files (no dot-files, no temporaries), oldest name first. */
  async inbound(): Promise<string[]> {
    await this.ensure();
    const names = await readdir(join(this.root, 'inbound'));
    const files: string[] = [];
    for (const n of names.sort()) {
      if (n.startsWith('.') || n.endsWith('.tmp') || n.endsWith('.part')) continue;
      if ((await stat(join(this.root, 'inbound', n))).isFile()) files.push(n);
    }
    return files;
  }

  read(name: string): Promise<string> {
    return readFile(join(this.root, 'inbound', name), 'utf8');
  }

  static hash(content: string): string {
    return createHash('sha256').update(content).digest('hex');
  }

  async seen(hash: string): Promise<boolean> {
    if (!this.ledger) {
      const text = await readFile(join(this.root, 'processed', '.ledger'), 'utf8').catch(() => '');
      this.ledger = new Set(text.split('\n').filter(Boolean).map((l) => l.split(' ')[0]));
    }
    return this.ledger.has(hash);
  }

  /** Counts a content hash as seen for this process (a copy under another name in the same run is skipped). */
  remember(hash: string): void {
    this.ledger?.add(hash);
  }

  /** Moves a handled file to processed/ and records its hash. */
  async done(name: string, hash: string): Promise<void> {
    if (!existsSync(join(this.root, 'inbound', name))) return;
    await appendFile(join(this.root, 'processed', '.ledger'), `${hash} ${name}\n`);
    this.ledger?.add(hash);
    await rename(join(this.root, 'inbound', name), join(this.root, 'processed', await this.freeName('processed', name)));
  }

  /** Moves an unreadable file to error/ with the reason next to it. */
  async failed(name: string, reason: string): Promise<void> {
    const to = await this.freeName('error', name);
    await rename(join(this.root, 'inbound', name), join(this.root, 'error', to));
    await writeFile(join(this.root, 'error', `${to}.error.txt`), `${reason}\n`);
  }

  /** `name`, or `name.1`, `name.2`... if a file of that name is already there. */
  private async freeName(folder: string, name: string): Promise<string> {
    let candidate = name;
    for (let i = 1; existsSync(join(this.root, folder, candidate)); i++) candidate = `${name}.${i}`;
    return candidate;
  }
}
