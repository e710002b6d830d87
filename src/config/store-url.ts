/**
 * The `store` setting (config key `store`, KMS_STORE, `--store URL`): absent means the data
 * folder's own LevelDB database; a `postgresql://` (or `postgres://`) URL means a shared
 * PostgreSQL database (docs/cluster-nodes.md). The URL may carry a password: it is never
 * logged or printed as given, only as `redactStoreUrl` returns it.
 */

export class StoreUrlError extends Error {
  override readonly name = 'StoreUrlError';
}

/** Throws StoreUrlError unless `url` is a postgresql:// URL with a host. */
export function checkStoreUrl(url: string, from: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StoreUrlError(`${from}: store must be a postgresql:// URL (postgresql://USER[:PASSWORD]@HOST:PORT/DATABASE), got something that is not a URL`);
  }
  if (u.protocol !== 'postgresql:' && u.protocol !== 'postgres:')
    throw new StoreUrlError(`${from}: store must be a postgresql:// URL, got a ${u.protocol}// URL (absent: the data folder's LevelDB)`);
  if (u.hostname === '' && !u.searchParams.has('host')) throw new StoreUrlError(`${from}: store URL names no host`);
}

/** The URL with its password (and any password query parameter) replaced by "***", for logs and messages. */
export function redactStoreUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '[unparseable store URL]';
  }
  if (u.password !== '') u.password = '***';
  for (const k of [...u.searchParams.keys()]) if (/pass/i.test(k)) u.searchParams.set(k, '***');
  return u.toString();
}

/** Replace every occurrence of the URL's password in `text` (an error message from the driver) by "***". */
export function redactIn(text: string, url: string | undefined): string {
  if (url === undefined) return text;
  let out = text.split(url).join(redactStoreUrl(url));
  try {
    const pw = decodeURIComponent(new URL(url).password);
    if (pw.length >= 3) out = out.split(pw).join('***');
  } catch {
    // not a URL: nothing more to hide
  }
  return out;
}
