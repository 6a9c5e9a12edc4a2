/** 3PL on file exchange: CSV orders out (atomic, once), confirmations and stock in (processed/error, never twice). */
import { isAbsolute, join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Milestone } from '../../../../shared/src/index.ts';
import { PartnerError, type AdapterFactory, type AdapterIO, type PartnerSettings, type SafetyTable, type WarehouseAdapter } from '../types.ts';
import { payloadOf } from '../common.ts';
import { FileExchange } from './client.ts';
import { cancelCsv, confirmationMilestones, fileName, orderCsv, returnCsv, stockMilestones, type FileOptions } from './map.ts';

/** The folder root: options.folder (absolute, or relative to the bridge's data dir), default `<dataDir>/<partner id>`. */
export function exchangeRoot(settings: PartnerSettings, dataDir: string): string {
  const f = settings.options.folder;
  return typeof f === 'string' && f ? (isAbsolute(f) ? f : join(dataDir, f)) : join(dataDir, settings.id);
}

/** The 3PL's file spec (written down in bridge/src/simulators/file-3pl/app.ts): a file name is one order, imported once. */
export const FILE_3PL_SAFETY = {
  releaseOrder: {
    rule: 'partner-deduplicates',
    doc: 'bridge/src/simulators/file-3pl/app.ts#contract (1: a file name is imported once, a file with the same name is the same order; ours is ORD_<picking>_<hash of the step key>, the same on every retry, and sent/ keeps us from writing it twice)',
  },
  cancelOrder: {
    rule: 'partner-deduplicates',
    doc: 'bridge/src/simulators/file-3pl/app.ts#contract (1, 3: same-name CAN_ files are one cancel; a cancel of a cancelled order does nothing)',
  },
  expectReturn: {
    rule: 'partner-deduplicates',
    doc: 'bridge/src/simulators/file-3pl/app.ts#contract (1: same-name RET_ files are one announcement)',
  },
} as const satisfies SafetyTable<'releaseOrder' | 'cancelOrder' | 'expectReturn'>;

function create(settings: PartnerSettings, io: AdapterIO): WarehouseAdapter {
  const o = settings.options as Partial<FileOptions>;
  if (!o.warehouse) throw new Error(`partner "${settings.id}": options.warehouse (the Odoo warehouse code) is required`);
  const opts = o as FileOptions;
  const files = new FileExchange(exchangeRoot(settings, io.dataDir));
  const handled = new Map<string, string>();
  const keyHash = (k: string) => createHash('sha256').update(k).digest('hex').slice(0, 10);

  return {
    role: 'warehouse',
    safety: FILE_3PL_SAFETY,
    async releaseOrder(event, ctx) {
      const name = fileName('ORD', payloadOf(event).picking_ref, keyHash(ctx.idempotencyKey));
      const r = await files.put(name, orderCsv(event, opts));
      return { data: { order_file: name, order_file_written: r.written } };
    },
    async cancelOrder(event, ctx) {
      const name = fileName('CAN', payloadOf(event).picking_ref, keyHash(ctx.idempotencyKey));
      await files.put(name, cancelCsv(event, opts));
      return { data: { cancel_file: name } };
    },
    async expectReturn(event, ctx) {
      const name = fileName('RET', payloadOf(event).return_ref, keyHash(ctx.idempotencyKey));
      await files.put(name, returnCsv(event, opts));
      return { data: { return_file: name } };
    },
    /**
     * Files read in one call are moved to processed/ at the start of the next call: the engine
     * calls again only after it queued the previous milestones, so a crash in between makes the
     * files be read again (same milestone ids, deduplicated downstream) instead of lost.
     */
    async collectUpdates() {
      for (const [name, hash] of handled) await files.done(name, hash);
      handled.clear();
      const out: Milestone[] = [];
      for (const name of await files.inbound()) {
        const text = await files.read(name);
        const hash = FileExchange.hash(text);
        if (await files.seen(hash)) {
          await files.done(name, hash);
          continue;
        }
        try {
          const kind = name.slice(0, 4).toUpperCase();
          const ms = kind === 'SHP_' ? confirmationMilestones(text, name, opts, settings.id, io.now())
            : kind === 'STK_' ? stockMilestones(text, name, opts, settings.id, io.now())
            : undefined;
          if (!ms) throw new PartnerError('permanent', `unknown file kind "${name}" (expected SHP_ or STK_)`, { reason: 'invalid_request' });
          out.push(...ms);
          handled.set(name, hash);
          files.remember(hash);
        } catch (e) {
          if (!(e instanceof PartnerError) || e.kind !== 'permanent') throw e;
          await files.failed(name, e.message);
        }
      }
      return out;
    },
  };
}

export const file3plAdapter: AdapterFactory = { role: 'warehouse', create };
