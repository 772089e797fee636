// Types for libredlock's Node binding. Times are milliseconds; fractions are truncated toward zero.
// Options objects must be plain objects: any other key, or a value of another type, is a TypeError.
/** The longest duration the C library accepts (REDLOCK_MAX_DURATION_MS): 1e12 ms. */
export const MAX_DURATION_MS: number;
export interface ClientOptions {
  /** 1..MAX_DURATION_MS ms; null, Infinity or more = no limit. Default 5000 (or the URL's). */
  connectTimeout?: number | null;
  /** 1..MAX_DURATION_MS ms; null, Infinity or more = no limit. Default 5000 (or the URL's). */
  commandTimeout?: number | null;
  /** 1..4096. */
  maxConnections?: number;
  /** TCP keepalive idle seconds, 0..32767; 0 = off. */
  keepalive?: number;
  /** null = none given (the URL's, if any). */
  username?: string | null;
  password?: string | null;
  /** 0..2^31-1. */
  db?: number;
  /** rediss:// only (docs/tls.md): trusted CA file / directory, client certificate and key, the name to verify. */
  tlsCaFile?: string;
  tlsCaDir?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  tlsServerName?: string;
  /** Default true; false does not verify the server at all (unsafe). */
  tlsVerify?: boolean;
}
export interface LockOptions {
  /** The lock's TTL, 1..MAX_DURATION_MS ms; null or 0 = the key never expires (the default; not allowed on a
   *  quorum client, whose locks need a TTL of at least 3 ms). */
  timeout?: number | null;
  /** Pause between attempts, 0..MAX_DURATION_MS ms; default 100. */
  sleep?: number;
  /** Default true. */
  blocking?: boolean;
  /** Longest wait; null (default), Infinity or more than MAX_DURATION_MS = forever; negative = one attempt. */
  blockingTimeout?: number | null;
  /** Each acquire also takes a fencing token (`lock.fence`); default false. */
  fencing?: boolean;
  /** Waiters get the lock in the order they asked, across processes; default false. */
  fair?: boolean;
  /** While held, the library renews the TTL every timeout / 3 in the background (needs a timeout); default false. */
  autoRenew?: boolean;
  /** With autoRenew: called once, on the event loop, when the lock is lost (the token found gone, or renewals failed
   *  until the TTL ran out); `error` is a LockNotOwnedError, ConnectionError or TimeoutError saying why. */
  onLost?: ((lock: Lock, error: RedlockError) => void) | null;
}
export interface AcquireOptions {
  blocking?: boolean;
  blockingTimeout?: number | null;
  sleep?: number;
  /** 1..4096 bytes as UTF-8; default a random 32-hex-digit token. */
  token?: string;
}
export class Client {
  /** One server (or a Sentinel / Cluster URL), or an array of 1..64 single-server URLs: a Redlock quorum. */
  constructor(url: string | string[], options?: ClientOptions);
  static fromUrl(url: string, options?: ClientOptions): Client;
  /** Redlock over independent masters (docs/redlock.md). */
  static fromUrls(urls: string[], options?: ClientOptions): Client;
  /** null on a quorum client. */
  readonly url: string | null;
  /** The masters' URLs of a quorum client, else null. */
  readonly urls: string[] | null;
  /** On a quorum client: each master's answer to the last ping(), else null. */
  outcomes: number[] | null;
  ping(): Promise<true>;
  lock(name: string | Buffer, options?: LockOptions): Lock;
  close(): void;
}
export class Lock {
  readonly name: string | Buffer;
  /** The TTL in ms, or null for a lock that never expires. */
  readonly timeout: number | null;
  readonly sleep: number;
  readonly blocking: boolean;
  /** null = wait forever; 0 = one attempt. */
  readonly blockingTimeout: number | null;
  readonly token: string | null;
  readonly fencing: boolean;
  readonly autoRenew: boolean;
  readonly fair: boolean;
  /** The fencing token of the current hold (a lock with `fencing: true`), or null when none is held; throws
   *  InvalidArgumentError on a lock without fencing. */
  readonly fence: number | null;
  /** Milliseconds this owner can still rely on the lock (0 once expired or lost); null without a token;
   *  Infinity for a lock without a timeout. */
  readonly validity: number | null;
  lastThreadId: number;
  /** On a quorum client: each master's answer to this lock's last call, in URL order (0 did it, 1 another owner's
   *  key, -3 our token / the key was not there, -5 connection failed, -6 no reply in time or none yet when the
   *  majority had decided, -7 server error, -8 auth); else null. */
  outcomes: number[] | null;
  acquire(options?: AcquireOptions): Promise<boolean>;
  release(): Promise<void>;
  /** additionalMs: 0..MAX_DURATION_MS (> 0 with replaceTtl). */
  extend(additionalMs: number, replaceTtl?: boolean): Promise<true>;
  reacquire(): Promise<true>;
  locked(): Promise<boolean>;
  owned(): Promise<boolean>;
  /** The key as it is now, whoever holds it (operators' tools). */
  status(): Promise<LockStatus>;
  /** Deletes the key only if it holds `token` (recovery); rejects with LockNotOwnedError otherwise. */
  releaseToken(token: string | Buffer): Promise<void>;
  using<T>(fn: (lock: Lock) => Promise<T> | T): Promise<T>;
  free(): void;
}
export interface LockStatus {
  held: boolean;
  /** ms left; null without a TTL or when free. */
  ttl: number | null;
  /** The value's first 4096 bytes; null when free, or when a quorum's majority holds the key without one value. */
  value: Buffer | null;
  /** The value's whole length in bytes. */
  valueBytes: number;
}
export class RedlockError extends Error {
  code: number;
  /** On a quorum client: each master's answer (as Lock.outcomes). */
  outcomes?: number[];
}
export class LockError extends RedlockError {}
export class LockNotOwnedError extends LockError {}
export class ConnectionError extends RedlockError {}
export class TimeoutError extends RedlockError {}
export class ResponseError extends RedlockError {}
export class AuthenticationError extends ResponseError {}
export class InvalidArgumentError extends RedlockError {}
export const codes: Readonly<Record<string, number>>;
export const libraryPath: string;
export function libraryVersion(): string;
