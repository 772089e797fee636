'use strict';
// The error classes, one per C result code (see docs/errors.md); shared by the API and its argument checks.
class RedlockError extends Error {
  constructor(message, code) {
    super(message);
    this.name = this.constructor.name;
    this.code = code;
  }
}
class LockError extends RedlockError {}
class LockNotOwnedError extends LockError {}
class ConnectionError extends RedlockError {}
class TimeoutError extends RedlockError {}
class ResponseError extends RedlockError {}
class AuthenticationError extends ResponseError {}
class InvalidArgumentError extends RedlockError {}

module.exports = {
  RedlockError, LockError, LockNotOwnedError, ConnectionError, TimeoutError, ResponseError, AuthenticationError,
  InvalidArgumentError,
};
