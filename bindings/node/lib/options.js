'use strict';
// Argument checks, done before anything reaches koffi, which converts without complaint: NaN, 1e300 and 2**63
// become INT64_MIN in an int64_t, 2**32 + 5 becomes 5 in a uint32_t, and a string stops at its first NUL.
// A wrong type or an unknown option key is a TypeError; a value of the right type that the C library would not
// accept (or could not receive exactly) is an InvalidArgumentError, like the ones the C library reports.
const { inspect } = require('node:util');
const { InvalidArgumentError } = require('./errors');

const EINVAL = -1;
/** REDLOCK_MAX_DURATION_MS: the longest duration the C library accepts, in milliseconds (about 31.7 years). */
const MAX_DURATION_MS = 1e12;
const LIMIT = `MAX_DURATION_MS (${MAX_DURATION_MS})`;

const show = (v) => inspect(v, { depth: 0, breakLength: Infinity });
const invalid = (msg) => new InvalidArgumentError(msg, EINVAL);

/** `value` as a plain options object (undefined = none), every key one of `known`. */
function options(value, what, known) {
  if (value === undefined) return {};
  const proto = value !== null && typeof value === 'object' ? Object.getPrototypeOf(value) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(`${what} must be a plain object, got ${show(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new TypeError(`unknown ${what} key '${key}'; known: ${known.join(', ')}`);
  }
  return value;
}

function number(value, what) {
  if (typeof value !== 'number') throw new TypeError(`${what} must be a number, got ${show(value)}`);
  return value;
}

function boolean(value, what) {
  if (typeof value !== 'boolean') throw new TypeError(`${what} must be true or false, got ${show(value)}`);
  return value;
}

// Strings go to C as UTF-8: a lone surrogate would become U+FFFD, and a NUL would cut short any string C reads up to
// its NUL (all but the token, which goes with its length).
function text(value, what, { nul = false } = {}) {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string, got ${show(value)}`);
  if (!nul && value.includes('\0')) throw invalid(`${what} contains a NUL byte`);
  if (Buffer.from(value, 'utf8').toString('utf8') !== value) throw invalid(`${what} is not valid Unicode (lone surrogate)`);
  return value;
}

/** A lock name as the bytes of the Redis key (a string is UTF-8). Emptiness is the C library's to report. */
function name(value) {
  if (!Buffer.isBuffer(value) && typeof value !== 'string') {
    throw new TypeError(`lock name must be a string or a Buffer, got ${show(value)}`);
  }
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(text(value, 'lock name'), 'utf8');
  if (bytes.includes(0)) throw invalid('lock name contains a NUL byte');
  return bytes;
}

/** An integer in [min, max], for fields that are not durations (counts, seconds, database numbers). */
function integer(value, what, min, max) {
  number(value, what);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${what} must be an integer from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

// Durations: milliseconds, fractions truncated toward zero, range checked on the value given (so -0.5 is negative).

/** 0..MAX_DURATION_MS (sleep, extend). */
function duration(value, what) {
  number(value, what);
  if (!(value >= 0 && value <= MAX_DURATION_MS)) throw invalid(`${what} must be from 0 to ${LIMIT} ms, got ${show(value)}`);
  return Math.trunc(value);
}

/** A lock's TTL for redlock_lock_options.timeout_ms: null/undefined/0 = never expires (0), else 1..MAX ms. */
function ttl(value) {
  if (value === null || value === undefined) return 0;
  number(value, 'timeout');
  if (value === 0) return 0;
  // (0, 1) would truncate to 0, which C reads as "never expires".
  if (!(value >= 1 && value <= MAX_DURATION_MS)) {
    throw invalid(`timeout must be from 1 to ${LIMIT} ms, or 0/null for a lock that never expires, got ${show(value)}`);
  }
  return Math.trunc(value);
}

/** An acquire's longest wait: null = forever (also Infinity and anything above the limit), negative = one attempt. */
function waitLimit(value) {
  if (value === null) return null;
  number(value, 'blockingTimeout');
  if (Number.isNaN(value)) throw invalid('blockingTimeout must be a number of ms or null, got NaN');
  if (value > MAX_DURATION_MS) return null;
  return value < 0 ? 0 : Math.trunc(value);
}

/** A client connect/command timeout for C: -1 = no limit (null, Infinity, above the limit), else >= 1 ms. */
function clientTimeout(value, what) {
  if (value === null) return -1;
  number(value, what);
  if (value > MAX_DURATION_MS) return -1;
  // (0, 1) would truncate to 0, which C reads as "unset" (the 5000 ms default).
  if (!(value >= 1)) throw invalid(`${what} must be >= 1 ms, or null for no limit, got ${show(value)}`);
  return Math.trunc(value);
}

module.exports = {
  MAX_DURATION_MS, options, number, boolean, text, name, integer, duration, ttl, waitLimit, clientTimeout,
};
