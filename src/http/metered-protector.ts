/**
 * A key protector that counts its calls and failures by function (seal, open, rotate,
 * destroy_kek, keks) into the metrics, and otherwise passes everything through. It sits
 * under the unwrapped-key cache, so cache hits are not counted as protector calls: the
 * counts are what reached the HSM (or the software master key).
 */
import type { KeyProtector } from '../hsm/key-protector.js';
import type { KmsMetrics } from './metrics.js';

type Fn = Parameters<KmsMetrics['protectorCall']>[0];

export class MeteredProtector implements KeyProtector {
  rotate?: KeyProtector['rotate'];
  destroyKek?: KeyProtector['destroyKek'];
  keks?: KeyProtector['keks'];
  forget?: KeyProtector['forget'];

  constructor(
    readonly inner: KeyProtector,
    private readonly metrics: KmsMetrics,
  ) {
    const { rotate, destroyKek, keks, forget } = inner;
    if (rotate) this.rotate = (label) => this.count('rotate', () => rotate.call(inner, label));
    if (destroyKek) this.destroyKek = (kekId) => this.count('destroy_kek', () => destroyKek.call(inner, kekId));
    if (keks) this.keks = () => this.count('keks', () => keks.call(inner));
    if (forget) this.forget = (uid) => forget.call(inner, uid);
  }

  get kekId(): string {
    return this.inner.kekId;
  }

  get description(): string {
    return this.inner.description;
  }

  private async count<T>(fn: Fn, f: () => Promise<T>): Promise<T> {
    try {
      const r = await f();
      this.metrics.protectorCall(fn, false);
      return r;
    } catch (e) {
      this.metrics.protectorCall(fn, true);
      throw e;
    }
  }

  seal(uid: string, plaintext: Uint8Array): Promise<Uint8Array> {
    // count() calls inner.seal at once, so it fixes its KEK before anything awaits.
    return this.count('seal', () => this.inner.seal(uid, plaintext));
  }

  open(uid: string, sealed: Uint8Array, kekId: string): Promise<Uint8Array> {
    return this.count('open', () => this.inner.open(uid, sealed, kekId));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
