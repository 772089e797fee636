#!/usr/bin/python3
"""Extracts every fenced code block of README.md and docs/*.md and runs it against a private redis-server.

Usage: run_snippets.py BUILD_DIR VENV_PYTHON REDIS_URL   (scripts/with-redis.sh appends the URL)

Per block, by its info string:
  c, cpp     with a main(): compiled against an installed copy of the library (pkg-config) and run; without one:
             compiled as declarations after the public header, so reference listings must match it
  python     run with VENV_PYTHON (the binding installed)
  js         run with node, `require('libredlock')` resolving to bindings/node
  sh         run with `sh -e` in the page's scratch directory, the installed `redlock` command on the PATH
  cmake      appended to a project that builds the page's last C block as `app`
  text       output or layout listings: shown, never run
Blocks of one page share a scratch directory, in order: the last c/cpp/python/js block is saved there as
app.c/app.cpp/app.py/app.js, so a following `cc app.c ...` block builds it. Programs get REDLOCK_URL in their
environment. A block preceded by `<!-- not run: REASON -->` is skipped and listed with its reason.
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<marker><!-- not run: (?P<reason>.+?) -->\n)?```(?P<lang>[\w+-]*)\n(?P<body>.*?)^```$",
                   re.M | re.S)
EXT = {"c": "c", "cpp": "cpp", "python": "py", "js": "js"}


def run(cmd, cwd, env, what):
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=300, shell=isinstance(cmd, str))
    if p.returncode != 0:
        raise RuntimeError("%s failed (exit %d):\n%s" % (what, p.returncode, p.stdout))
    return p.stdout


def main():
    build, venv_python, url = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
    work = pathlib.Path(tempfile.mkdtemp(prefix="redlock-snippets-"))
    try:
        prefix = work / "prefix"
        run(["cmake", "--install", build, "--prefix", str(prefix)], ROOT, None, "cmake --install")
        libdir = next(prefix.rglob("libredlock.so")).parent
        node_modules = work / "node_modules"
        node_modules.mkdir()
        (node_modules / "libredlock").symlink_to(ROOT / "bindings" / "node")
        env = dict(os.environ, REDLOCK_URL=url, PKG_CONFIG_PATH=str(libdir / "pkgconfig"),
                   LIBREDLOCK_PATH=str(libdir / "libredlock.so"), NODE_PATH=str(node_modules),
                   CMAKE_PREFIX_PATH=str(prefix), HOME=str(work / "home"))
        # Programs built by a page's shell steps find the library as after a system-wide install and ldconfig.
        env["LD_LIBRARY_PATH"] = str(libdir)
        env["PATH"] = "%s:%s" % (prefix / "bin", env["PATH"])  # the installed redlock command
        env["FUZZ_SECONDS"] = "5"  # docs/reliability.md's long fuzzing run, shortened
        env["LIBREDLOCK_SRC"] = str(ROOT)  # "your libredlock checkout" in the pages' install steps
        pkg = run(["pkg-config", "--cflags", "--libs", "redlock"], ROOT, env, "pkg-config").split()
        rpath = ["-Wl,-rpath," + str(libdir)]
        counts, skipped, failures = {}, [], []
        pages = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
        for page in pages:
            scratch = work / page.stem
            scratch.mkdir()
            for name in ("bindings", "build", "build-clang-asan", "include", "examples", "scripts", "tests"):
                (scratch / name).symlink_to(ROOT / name)
            text = page.read_text()
            for i, m in enumerate(FENCE.finditer(text), 1):
                lang, body = m.group("lang"), m.group("body")
                line = text.count("\n", 0, m.start()) + 1 + (1 if m.group("marker") else 0)
                where = "%s:%d" % (page.relative_to(ROOT), line)
                if m.group("reason"):
                    skipped.append("%s (%s): %s" % (where, lang, m.group("reason")))
                    continue
                if lang == "text":
                    continue
                if lang not in ("c", "cpp", "python", "js", "sh", "cmake"):
                    failures.append("%s: info string '%s' is not one of c, cpp, python, js, sh, cmake, text"
                                    % (where, lang))
                    continue
                try:
                    if lang in EXT:
                        src = scratch / ("app." + EXT[lang])
                        src.write_text(body)
                    if lang in ("c", "cpp"):
                        cc = ["cc", "-std=c99"] if lang == "c" else ["c++", "-std=c++17"]
                        flags = ["-Wall", "-Wextra", "-Werror", "-I" + str(prefix / "include")]
                        if re.search(r"\bint\s+main\s*\(", body):
                            run(cc + flags + [str(src), "-o", str(scratch / "app"), "-pthread"] + pkg + rpath,
                                scratch, env, where + " compile")
                            run([str(scratch / "app")], scratch, env, where + " run")
                        else:  # a reference listing: declarations that must agree with the header
                            header = "redlock/redlock.hpp" if "redlock::" in body else "redlock/redlock.h"
                            run(cc + flags + ["-fsyntax-only", "-include", header, str(src)], scratch, env,
                                where + " declarations")
                    elif lang == "python":
                        run([venv_python, str(src)], scratch, env, where + " run")
                    elif lang == "js":
                        run(["node", str(src)], scratch, env, where + " run")
                    elif lang == "sh":
                        run(["sh", "-e", "-c", body], scratch, env, where + " run")
                    elif lang == "cmake":
                        proj = scratch / "cmake-project"
                        proj.mkdir(exist_ok=True)
                        shutil.copy(scratch / "app.c", proj / "app.c")
                        (proj / "CMakeLists.txt").write_text(
                            "cmake_minimum_required(VERSION 3.18)\nproject(app C)\nadd_executable(app app.c)\n" + body)
                        run(["cmake", "-S", str(proj), "-B", str(proj / "build"), "-G", "Ninja",
                             "-DCMAKE_BUILD_RPATH=" + str(libdir)], scratch, env, where + " configure")
                        run(["cmake", "--build", str(proj / "build")], scratch, env, where + " build")
                        run([str(proj / "build" / "app")], scratch, env, where + " run")
                    counts[lang] = counts.get(lang, 0) + 1
                    print("ok   %s (%s)" % (where, lang))
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                    failures.append("%s (%s): %s" % (where, lang, e))
                    print("FAIL %s (%s)" % (where, lang))
        for s in skipped:
            print("not run: " + s)
        for f in failures:
            print("\n" + f)
        print("%d snippets passed (%s), %d not run (reasons above), %d failed" % (
            sum(counts.values()), ", ".join("%s %d" % kv for kv in sorted(counts.items())), len(skipped),
            len(failures)))
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
