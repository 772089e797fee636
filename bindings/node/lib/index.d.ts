// Types for libredlock's Node binding. Times are milliseconds.
export interface ClientOptions {
  connectTimeout?: number | null;
  commandTimeout?: number | null;
  maxConnections?: number;
  keepalive?: number;
  username?: string;
  password?: string;
  db?: number;
}
export interface LockOptions {
  timeout?: number | null;
  sleep?: number;
  blocking?: boolean;
  blockingTimeout?: number | null;
}
export interface AcquireOptions {
  blocking?: boolean;
  blockingTimeout?: number | null;
  sleep?: number;
  token?: string;
}
export class Client {
  constructor(url: string, options?: ClientOptions);
  static fromUrl(url: string, options?: ClientOptions): Client;
  readonly url: string;
  ping(): Promise<true>;
  lock(name: string | Buffer, options?: LockOptions): Lock;
  close(): void;
}
export class Lock {
  readonly name: string | Buffer;
  readonly token: string | null;
  lastThreadId: number;
  acquire(options?: AcquireOptions): Promise<boolean>;
  release(): Promise<void>;
  extend(additionalMs: number, replaceTtl?: boolean): Promise<true>;
  reacquire(): Promise<true>;
  locked(): Promise<boolean>;
  owned(): Promise<boolean>;
  using<T>(fn: (lock: Lock) => Promise<T> | T): Promise<T>;
  free(): void;
}
export class RedlockError extends Error { code: number; }
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
