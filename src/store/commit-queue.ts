/**
 * The commit queue of a store with one writer per process (LevelStore, PgStore): `commit` queues;
 * one drain loop at a time takes the commits waiting, up to `maxGroup` of one kind (deferred-sync
 * or not: a deferred commit never waits for a sync that the others need), and hands each group to
 * the store's `write`, which settles every commit of it. A group `write` throws for is rejected as
 * a whole, with the error `lastResort` makes of it.
 */
import type { CommitOp, CommitOptions } from './object-store.js';

/** One queued commit. */
export interface PendingCommit {
  readonly ops: readonly CommitOp[];
  readonly options: CommitOptions | undefined;
  /** Written without waiting for a sync (CommitOptions.deferSync). */
  readonly deferred: boolean;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

export class CommitQueue {
  private readonly queue: PendingCommit[] = [];
  private draining: Promise<void> | undefined;

  constructor(
    private readonly o: {
      /** Most commits in one group. */
      readonly maxGroup: number;
      /** Write one group (all deferred or none) and settle each of its commits. */
      readonly write: (group: PendingCommit[], deferred: boolean) => Promise<void>;
      /** The rejection for the commits of a group whose `write` threw. */
      readonly lastResort: (e: unknown) => unknown;
    },
  ) {}

  /** Queue a commit; the drain loop starts if it is not running. */
  push(p: PendingCommit): void {
    this.queue.push(p);
    this.kick();
  }

  /** Resolves once nothing is queued nor being written (close waits for it). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private kick(): void {
    if (this.draining || this.queue.length === 0) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const deferred = this.queue[0]!.deferred;
      let n = 1;
      while (n < this.queue.length && n < this.o.maxGroup && this.queue[n]!.deferred === deferred) n++;
      const group = this.queue.splice(0, n);
      try {
        await this.o.write(group, deferred);
      } catch (e) {
        const err = this.o.lastResort(e);
        for (const p of group) p.reject(err);
      }
    }
  }
}
