'use strict';
// Where the package finds libredlock.so. A build/libredlock.so planted in a directory above an installed package
// (a shared temp dir, say) must never be loaded: loading alone runs its constructors.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const pkgDir = path.join(__dirname, '..');
let tmp;
let prefix;
let pcDir;
let installed;  // the path the package should report for the installed library
let marker;
let builtLib;

// The library under test: LIBREDLOCK_PATH (as the suite is run), else what the package finds from this checkout.
function builtLibrary() {
  const p = process.env.LIBREDLOCK_PATH;
  if (p) return fs.statSync(p).isDirectory() ? path.join(p, 'libredlock.so') : p;
  return require('../lib').libraryPath;
}

function findFile(dir, name) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      const found = findFile(p, name);
      if (found) return found;
    } else if (e.name === name) {
      return p;
    }
  }
  return null;
}

// The package as an app would have it: lib/ and package.json, with koffi beside it in node_modules.
function installPackage(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(path.join(pkgDir, 'lib'), path.join(dir, 'lib'), { recursive: true });
  fs.copyFileSync(path.join(pkgDir, 'package.json'), path.join(dir, 'package.json'));
}

function linkKoffi(nodeModules) {
  fs.mkdirSync(nodeModules, { recursive: true });
  fs.symlinkSync(fs.realpathSync(path.join(pkgDir, 'node_modules', 'koffi')), path.join(nodeModules, 'koffi'));
}

function plant(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(tmp, 'plant.so'), path.join(dir, 'libredlock.so'));
}

// Runs `code` in a fresh node with a clean library environment plus `env`; returns { ok, out } from its JSON line.
function run(cwd, code, env = {}) {
  const base = { ...process.env };
  for (const k of ['LIBREDLOCK_PATH', 'LD_LIBRARY_PATH', 'PKG_CONFIG_PATH', 'NODE_PATH']) delete base[k];
  const r = spawnSync(process.execPath, ['-e', code], { cwd, env: { ...base, ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}

const report = "const l = require(%s); console.log(JSON.stringify({ path: l.libraryPath, version: l.libraryVersion() }))";
const load = (what) => report.replace('%s', JSON.stringify(what));

before(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'redlock-search-')));
  builtLib = builtLibrary();
  const buildDir = path.dirname(fs.realpathSync(builtLib));
  assert.ok(fs.existsSync(path.join(buildDir, 'cmake_install.cmake')), `${buildDir} is not a CMake build directory`);
  prefix = path.join(tmp, 'prefix');
  execFileSync('cmake', ['--install', buildDir, '--prefix', prefix], { stdio: 'pipe' });
  pcDir = path.dirname(findFile(prefix, 'redlock.pc'));
  installed = path.join(path.dirname(pcDir), 'libredlock.so.0');
  assert.ok(fs.existsSync(installed));

  marker = path.join(tmp, 'planted-library-ran');
  fs.writeFileSync(path.join(tmp, 'plant.c'),
    '#include <stdio.h>\n' +
    '__attribute__((constructor)) static void planted(void) {\n' +
    `  FILE *f = fopen(${JSON.stringify(marker)}, "a");\n` +
    '  if (f) { fputs("a planted library was loaded\\n", f); fclose(f); }\n' +
    '}\n');
  execFileSync('cc', ['-shared', '-fPIC', '-o', path.join(tmp, 'plant.so'), path.join(tmp, 'plant.c')]);
  // The plant works: loading it leaves the marker (so its absence below means it was never loaded).
  run(tmp, `require('koffi').load(${JSON.stringify(path.join(tmp, 'plant.so'))})`,
    { NODE_PATH: path.join(pkgDir, 'node_modules') });
  assert.ok(fs.existsSync(marker), 'the planted library did not write its marker when loaded');
  fs.rmSync(marker);
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('an installed package loads the installed library, never a build/libredlock.so planted above it', () => {
  const app = path.join(tmp, 'x', 'app');
  installPackage(path.join(app, 'node_modules', 'libredlock'));
  linkKoffi(path.join(app, 'node_modules'));
  // Every directory the old search looked in, from the package up to the temp dir.
  for (const d of ['x/app/node_modules/libredlock', 'x/app/node_modules/libredlock/lib', 'x/app/node_modules',
    'x/app', 'x', '.']) {
    plant(path.join(tmp, d, 'build'));
  }

  const r = run(app, load('libredlock'), { PKG_CONFIG_PATH: pcDir });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.equal(got.path, installed);
  assert.match(got.version, /^\d+\.\d+\.\d+$/);
  assert.equal(fs.existsSync(marker), false, 'a planted library was loaded');

  // Without pkg-config's answer: the system linker path, else an error that says what was tried and what to do.
  const hidden = path.join(tmp, 'no-pc');
  fs.mkdirSync(hidden);
  const systemHasIt = run(tmp, "require('koffi').load('libredlock.so.0')",
    { NODE_PATH: path.join(pkgDir, 'node_modules') }).status === 0;
  const r2 = run(app, load('libredlock'), { PKG_CONFIG_LIBDIR: hidden });
  if (systemHasIt) {
    assert.equal(r2.status, 0, r2.stderr);
    assert.equal(JSON.parse(r2.stdout).path, 'libredlock.so.0');
  } else {
    assert.notEqual(r2.status, 0);
    assert.match(r2.stderr, /libredlock\.so not found; set LIBREDLOCK_PATH/);
    assert.match(r2.stderr, /Tried: pkg-config --variable=libdir redlock \(no answer\); libredlock\.so\.0 \(/);
    assert.doesNotMatch(r2.stderr, /build\/libredlock\.so/);
  }
  assert.equal(fs.existsSync(marker), false, 'a planted library was loaded');
});

test('a package inside a libredlock checkout loads <root>/build/libredlock.so, and only that one', () => {
  const co = path.join(tmp, 'checkout');
  const pkg = path.join(co, 'bindings', 'node');
  installPackage(pkg);
  linkKoffi(path.join(pkg, 'node_modules'));
  fs.mkdirSync(path.join(co, 'include', 'redlock'), { recursive: true });
  fs.copyFileSync(path.join(pkgDir, '..', '..', 'include', 'redlock', 'redlock.h'),
    path.join(co, 'include', 'redlock', 'redlock.h'));
  fs.mkdirSync(path.join(co, 'build'));
  fs.copyFileSync(fs.realpathSync(builtLib), path.join(co, 'build', 'libredlock.so'));
  plant(path.join(tmp, 'build'));  // above the checkout: never looked at
  plant(path.join(co, 'bindings', 'build'));

  const r = run(co, load(pkg), { PKG_CONFIG_PATH: pcDir });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).path, path.join(co, 'build', 'libredlock.so'));

  // The same layout without the C header is not a checkout: its build/ is not looked at.
  fs.rmSync(path.join(co, 'include'), { recursive: true });
  const r2 = run(co, load(pkg), { PKG_CONFIG_PATH: pcDir });
  assert.equal(r2.status, 0, r2.stderr);
  assert.equal(JSON.parse(r2.stdout).path, installed);
  assert.equal(fs.existsSync(marker), false, 'a planted library was loaded');
});

test('LIBREDLOCK_PATH: a file or a directory, made absolute, and the only place looked at when set', () => {
  const libdir = path.dirname(installed);
  const dirRun = run(tmp, load(pkgDir), { LIBREDLOCK_PATH: libdir });
  assert.equal(dirRun.status, 0, dirRun.stderr);
  // In a directory, the SONAME file first: the runtime package has no libredlock.so.
  assert.equal(JSON.parse(dirRun.stdout).path, path.join(libdir, 'libredlock.so.0'));
  const runtimeOnly = fs.mkdtempSync(path.join(tmp, 'runtime-only-'));
  fs.copyFileSync(path.join(libdir, 'libredlock.so.0'), path.join(runtimeOnly, 'libredlock.so.0'));
  const soRun = run(tmp, load(pkgDir), { LIBREDLOCK_PATH: runtimeOnly });
  assert.equal(soRun.status, 0, soRun.stderr);
  assert.equal(JSON.parse(soRun.stdout).path, path.join(runtimeOnly, 'libredlock.so.0'));

  // Relative to the working directory at load time; the workers get the absolute path (they load it later).
  const rel = path.relative(tmp, installed);
  const viaWorker = `${load(pkgDir)}; process.chdir('/');
    const { Client, ConnectionError } = require(${JSON.stringify(pkgDir)});
    Client.fromUrl('redis://127.0.0.1:1', { connectTimeout: 300 }).ping()
      .then(() => process.exit(3), (e) => process.exit(e instanceof ConnectionError ? 0 : 4));`;
  const relRun = run(tmp, viaWorker, { LIBREDLOCK_PATH: rel });
  assert.equal(relRun.status, 0, relRun.stderr);
  assert.equal(JSON.parse(relRun.stdout).path, installed);

  // A wrong explicit path is an error, not a fallback to the installed library.
  const wrong = run(tmp, load(pkgDir), { LIBREDLOCK_PATH: path.join(tmp, 'nope.so'), PKG_CONFIG_PATH: pcDir });
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.stderr, /LIBREDLOCK_PATH does not name a loadable libredlock\.so: .*nope\.so \(no such file\)$/m);
  assert.equal(fs.existsSync(marker), false, 'a planted library was loaded');
});
