'use strict';
// Finds libredlock.so and declares the C functions for koffi. Loaded on the main thread (calls that never do I/O)
// and in each worker thread (calls that talk to Redis). Handles cross threads as addresses (uintptr_t).
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const koffi = require('koffi');

const codes = Object.freeze({
  OK: 0, NOT_ACQUIRED: 1, EINVAL: -1, ENOTHELD: -2, ENOTOWNED: -3, ENOTTL: -4, ECONN: -5, ETIMEDOUT: -6,
  ESERVER: -7, EAUTH: -8, ENOMEM: -9, EINTERNAL: -10,
});

// Where libredlock.so may come from, in order. Never a directory merely above the package: a build/libredlock.so
// planted in a shared parent (e.g. /tmp) would be loaded, and its constructors run, before the installed library.
function candidates(tried) {
  // 1. An explicit path, and nothing else: a wrong LIBREDLOCK_PATH is an error, not a fallback.
  if (process.env.LIBREDLOCK_PATH) return [process.env.LIBREDLOCK_PATH];
  const out = [];
  // 2. The source tree's build, only when this package runs from a libredlock checkout (<root>/bindings/node).
  const pkg = path.dirname(__dirname);
  const root = path.dirname(path.dirname(pkg));
  if (path.basename(pkg) === 'node' && path.basename(path.dirname(pkg)) === 'bindings' &&
      fs.existsSync(path.join(root, 'include', 'redlock', 'redlock.h'))) {
    out.push(path.join(root, 'build', 'libredlock.so'));
  }
  // 3. The installed library: pkg-config's libdir, then the dynamic linker's search path.
  try {
    const libdir = execFileSync('pkg-config', ['--variable=libdir', 'redlock'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (libdir) out.push(path.join(libdir, 'libredlock.so.0'));
  } catch {
    tried.push('pkg-config --variable=libdir redlock (no answer)');
  }
  out.push('libredlock.so.0');
  return out;
}

function findLibrary() {
  const tried = [];
  for (const c of candidates(tried)) {
    // A path is made absolute: worker threads load the same file, whatever the working directory is by then.
    // A directory: the runtime package has only the SONAME file; the -dev package adds libredlock.so.
    const inDir = (d) => (fs.existsSync(path.join(d, 'libredlock.so.0')) ? path.join(d, 'libredlock.so.0')
      : path.join(d, 'libredlock.so'));
    const found = fs.existsSync(c) && fs.statSync(c).isDirectory() ? inDir(c) : c;
    const file = found.includes('/') ? path.resolve(found) : found;
    if (file.includes('/') && !fs.existsSync(file)) { tried.push(`${file} (no such file)`); continue; }
    try {
      koffi.load(file);
      return file;
    } catch (e) {
      tried.push(`${file} (${e.message})`);
    }
  }
  if (process.env.LIBREDLOCK_PATH) {  // the caller chose it: say that choice is what failed
    throw new Error(`LIBREDLOCK_PATH does not name a loadable libredlock.so: ${tried.join('; ')}`);
  }
  throw new Error('libredlock.so not found; set LIBREDLOCK_PATH to the library file (or its directory), or install ' +
    `libredlock (pkg-config redlock, or the system linker path). Tried: ${tried.join('; ')}`);
}

let typesDeclared = false;
function declareTypes() {
  if (typesDeclared) return;
  typesDeclared = true;
  koffi.struct('redlock_client_options', {
    version: 'uint32_t', max_connections: 'uint32_t', connect_timeout_ms: 'int64_t', command_timeout_ms: 'int64_t',
    keepalive_s: 'int64_t', username: 'const char *', password: 'const char *', db: 'int32_t',
    // version 2 (TLS): the library's default init fills all of it
    tls_ca_file: 'const char *', tls_ca_dir: 'const char *', tls_cert_file: 'const char *',
    tls_key_file: 'const char *', tls_server_name: 'const char *', tls_verify: 'int32_t',
    sentinel_username: 'const char *', sentinel_password: 'const char *',
    _future: koffi.array('uint8_t', 256),  // room a newer library's init may fill (it is found by name, unversioned)
  });
  koffi.struct('redlock_lock_options', {  // version 2: the library's default init fills all of it
    version: 'uint32_t', blocking: 'int32_t', timeout_ms: 'int64_t', sleep_ms: 'int64_t', blocking_timeout_ms: 'int64_t',
    auto_renew: 'int32_t', fencing: 'int32_t', fair: 'int32_t',
    on_lost: 'uintptr_t', on_lost_arg: 'uintptr_t',  // a function address from lost-listener.js, and a lock id
    _future: koffi.array('uint8_t', 256),
  });
  koffi.struct('redlock_acquire_options', {
    version: 'uint32_t', set: 'uint32_t', blocking: 'int32_t', blocking_timeout_ms: 'int64_t', sleep_ms: 'int64_t',
    token: 'const char *', token_len: 'size_t',
    _future: koffi.array('uint8_t', 256),
  });
}

// Every C function, declared the same way on every thread; a missing symbol throws at load time.
function bind(file) {
  declareTypes();
  const lib = koffi.load(file);
  const f = (sig) => {
    try {
      return lib.func(sig);
    } catch (e) {
      throw new Error(`${file} is not a compatible libredlock (${sig.match(/redlock_\w+/)[0]}: ${e.message})`);
    }
  };
  return {
    strerror: f('const char *redlock_strerror(int code)'),
    lastError: f('const char *redlock_last_error(void)'),
    version: f('const char *redlock_version(void)'),
    clientOptionsInit: f('void redlock_client_options_init(_Out_ redlock_client_options *opts)'),
    clientNew: f('int redlock_client_new(_Out_ uintptr_t *out, const char *url, const redlock_client_options *opts)'),
    clientPing: f('int redlock_client_ping(uintptr_t client)'),
    clientFree: f('void redlock_client_free(uintptr_t client)'),
    lockOptionsInit: f('void redlock_lock_options_init(_Out_ redlock_lock_options *opts)'),
    lockNew: f('int redlock_lock_new(_Out_ uintptr_t *out, uintptr_t client, const uint8_t *name, ' +
               'const redlock_lock_options *opts, unsigned int flags)'),
    lockFree: f('void redlock_lock_free(uintptr_t lock)'),
    acquireOptionsInit: f('void redlock_acquire_options_init(_Out_ redlock_acquire_options *opts)'),
    acquireEx: f('int redlock_lock_acquire_ex(uintptr_t lock, const redlock_acquire_options *opts)'),
    release: f('int redlock_lock_release(uintptr_t lock)'),
    extend: f('int redlock_lock_extend(uintptr_t lock, int64_t additional_ms, int replace_ttl)'),
    reacquire: f('int redlock_lock_reacquire(uintptr_t lock)'),
    locked: f('int redlock_lock_locked(uintptr_t lock)'),
    owned: f('int redlock_lock_owned(uintptr_t lock)'),
    token: f('int redlock_lock_token(uintptr_t lock, _Out_ uint8_t *buf, size_t buflen, _Out_ size_t *needed)'),
    fence: f('int redlock_lock_fence(uintptr_t lock, _Out_ uint64_t *out)'),
    validity: f('int redlock_lock_validity(uintptr_t lock, _Out_ int64_t *ms_left)'),
    status: f('int redlock_lock_status(uintptr_t lock, _Out_ int64_t *ttl_ms, _Out_ uint8_t *value, size_t value_cap, ' +
              '_Out_ size_t *value_len)'),
    releaseToken: f('int redlock_lock_release_token(uintptr_t lock, const uint8_t *token, size_t token_len)'),
    quorumOutcomes: f('int redlock_quorum_outcomes(_Out_ int *codes, size_t cap, _Out_ size_t *n_masters)'),
    clientNewQuorum: f('int redlock_client_new_quorum(_Out_ uintptr_t *out, const char **urls, size_t n_urls, ' +
                       'const redlock_client_options *opts)'),
  };
}

module.exports = { codes, findLibrary, bind, koffi };
