import { webcrypto } from 'node:crypto';

/**
 * @peculiar/x509, loaded with what it needs: Node's webcrypto as its crypto
 * provider, and the few Reflect metadata functions its dependency tsyringe
 * insists on at import (it throws "tsyringe requires a reflect polyfill"
 * otherwise). x509's own classes carry no decorator metadata, so a small
 * WeakMap store answers every lookup tsyringe makes; a real polyfill
 * (reflect-metadata), when something else installed one, is left alone.
 * The library is imported after the shim is in place (a dynamic import, so
 * no import sorting can put it first).
 */

type MetadataStore = WeakMap<object, Map<unknown, unknown>>;

function installReflectMetadata(): void {
  const reflect = Reflect as unknown as Record<string, unknown>;
  if (typeof reflect.getMetadata === 'function') return;
  const store: MetadataStore = new WeakMap();
  const own = (target: object, key: unknown) => store.get(target)?.get(key);
  const getMetadata = (key: unknown, target: object): unknown => {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t)) {
      const value = own(t, key);
      if (value !== undefined) return value;
    }
    return undefined;
  };
  Object.assign(reflect, {
    getOwnMetadata: (key: unknown, target: object) => own(target, key),
    getMetadata,
    hasMetadata: (key: unknown, target: object) => getMetadata(key, target) !== undefined,
    defineMetadata(key: unknown, value: unknown, target: object) {
      const map = store.get(target) ?? new Map<unknown, unknown>();
      map.set(key, value);
      store.set(target, map);
    },
    metadata: (key: unknown, value: unknown) => (target: object) => {
      (reflect.defineMetadata as (k: unknown, v: unknown, t: object) => void)(key, value, target);
    },
  });
}

installReflectMetadata();
const x509 = await import('@peculiar/x509');
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
