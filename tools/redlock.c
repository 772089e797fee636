/* redlock: flock(1) for a Redis lock. Runs a command while holding a lock that every machine sharing the Redis server
 * sees, renewing it while the command runs, and releasing it when the command exits. Plus status, release and wait for
 * operators. Built on the public C API only (a user of libredlock could have written it); docs/redlock.1 is its
 * manual, and this file, the man page and --help must agree (tests/cli/ checks it). */
#define _GNU_SOURCE /* getopt_long, SI_KERNEL */
#include <redlock/redlock.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Exit codes (the man page's EXIT STATUS). The conflict code is -E's, 1 by default, as flock's. */
enum {
    EXIT_CONFLICT_DEFAULT = 1,
    EXIT_USAGE = 64,       /* bad option, number, URL or name (sysexits EX_USAGE) */
    EXIT_UNAVAILABLE = 69, /* server down, not answering in time, or answering with an error (EX_UNAVAILABLE) */
    EXIT_SOFTWARE = 70,    /* a bug in redlock or libredlock (EX_SOFTWARE) */
    EXIT_OSERR = 71,       /* the system refused: no process could be started (EX_OSERR) */
    EXIT_LOST = 75,        /* the lock was lost while the command ran; the command was sent SIGTERM (EX_TEMPFAIL) */
    EXIT_NOPERM = 77,      /* the server refused the credentials or a permission (EX_NOPERM) */
    EXIT_CANNOT_EXEC = 126,
    EXIT_NOT_FOUND = 127
};

#define DEFAULT_URL "redis://127.0.0.1:6379"
#define MAX_URLS REDLOCK_MAX_MASTERS
#define SLICE_MS 200 /* a waiting acquire returns this often, to notice a signal */

static const char usage_text[] =
    "Usage:\n"
    "  redlock [options] NAME [--] COMMAND [ARGS...]   run COMMAND while holding the lock NAME\n"
    "  redlock [options] NAME -c SHELL-COMMAND         the same, through sh -c\n"
    "  redlock run [options] NAME [--] COMMAND...      the same, for a NAME spelled like a sub-command\n"
    "  redlock status [options] NAME                   is NAME held, for how long, and by what kind of owner\n"
    "  redlock release [options] NAME --token TOKEN    delete NAME if it holds TOKEN (recovery)\n"
    "  redlock wait [options] NAME                     block until NAME is free\n"
    "\n"
    "Options:\n"
    "  -u, --url URL                 the Redis server (default $REDLOCK_URL, else " DEFAULT_URL ");\n"
    "                                give it several times for Redlock over independent masters\n"
    "  -n, --nonblock                fail at once if the lock is held (same as -w 0)\n"
    "  -w, --wait, --timeout SECONDS give up after SECONDS (default: wait as long as it takes)\n"
    "  -E, --conflict-exit-code N    exit status when the lock stays held (default 1)\n"
    "  -t, --ttl SECONDS             the lock's TTL, renewed every TTL/3 while COMMAND runs (default 30)\n"
    "      --sleep SECONDS           pause between attempts while waiting (default 0.1)\n"
    "  -c, --command SHELL-COMMAND   run SHELL-COMMAND with sh -c\n"
    "  -k, --keep-running            if the lock is lost, warn and let COMMAND run on\n"
    "                                (default: send it SIGTERM and exit 75)\n"
    "      --token TOKEN             the token to release (release)\n"
    "      --json                    machine-readable output (status, release, wait)\n"
    "  -v, --verbose                 say what happens, on stderr\n"
    "  -V, --version                 print the versions of redlock and libredlock\n"
    "  -h, --help                    print this help\n"
    "\n"
    "Exit status: COMMAND's own (128+N when killed by signal N); 1 (-E) when the lock stays held (run, wait),\n"
    "when it is free (status) or holds another token (release); 64 usage; 69 server unavailable or failing;\n"
    "70 internal error; 71 system error; 75 lock lost while COMMAND ran; 77 credentials or permission refused;\n"
    "126 COMMAND cannot run; 127 COMMAND not found. SIGINT, SIGTERM and SIGHUP are passed to COMMAND;\n"
    "the lock is released when it exits. See redlock(1).\n";

enum mode { MODE_RUN, MODE_STATUS, MODE_RELEASE, MODE_WAIT };

struct args {
    enum mode mode;
    const char *urls[MAX_URLS];
    size_t n_urls;
    const char *name;
    char **command; /* NULL-terminated, for MODE_RUN */
    const char *shell_command;
    const char *token;
    double wait_s; /* < 0: forever */
    double ttl_s;
    double sleep_s;
    int conflict_code;
    int keep_running;
    int json;
    int verbose;
};

/* ---- messages ------------------------------------------------------------------------------------------------- */

static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("redlock: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* One line naming the cause: the library's message, with any line break flattened. */
static const char *detail(void) {
    static char buf[1024];
    const char *m = redlock_last_error();
    size_t i = 0;
    for (; m[i] && i + 1 < sizeof buf; ++i) buf[i] = (m[i] == '\n' || m[i] == '\r') ? ' ' : m[i];
    buf[i] = '\0';
    return buf[0] ? buf : "no detail";
}

/* The exit status for a library error code. */
static int exit_for(int rc) {
    switch (rc) {
    case REDLOCK_EINVAL: return EXIT_USAGE;
    case REDLOCK_EAUTH: return EXIT_NOPERM;
    case REDLOCK_ECONN:
    case REDLOCK_ETIMEDOUT:
    case REDLOCK_ESERVER: return EXIT_UNAVAILABLE;
    default: return EXIT_SOFTWARE;
    }
}

static int fail_with(int rc, const char *what) {
    const char *cause = rc == REDLOCK_ECONN        ? "server unavailable"
                        : rc == REDLOCK_ETIMEDOUT  ? "server not answering in time"
                        : rc == REDLOCK_EAUTH      ? "refused by the server (credentials or permission)"
                        : rc == REDLOCK_ESERVER    ? "server error"
                        : rc == REDLOCK_EINVAL     ? "invalid argument"
                                                   : redlock_strerror(rc);
    say("%s: %s: %s", what, cause, detail());
    return exit_for(rc);
}

static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("redlock: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'redlock --help' for more information.\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

/* ---- numbers and time ------------------------------------------------------------------------------------------- */

/* Seconds as a decimal number, 0 .. 1e9 (the library's longest duration). */
static int parse_seconds(const char *s, const char *option, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < 0 || v > 1e9)
        return usage_error("%s: '%s' is not a number of seconds from 0 to 1000000000", option, s);
    *out = v;
    return 0;
}

static int64_t to_ms(double s) { return (int64_t)llround(s * 1000.0); }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- signals ---------------------------------------------------------------------------------------------------- */

static volatile sig_atomic_t child_pid;      /* > 0 while COMMAND runs */
static volatile sig_atomic_t pending_signal; /* the last SIGINT/TERM/HUP received */
static atomic_int lost_reason;               /* != 0 once the lock was lost (the library's code) */
static atomic_int keep_running;

/* Forward to COMMAND, except a terminal's signals (SI_KERNEL): the terminal sends those to the whole foreground
 * process group, COMMAND included, and a second copy would hit a command that handles the first. */
static void on_signal(int sig, siginfo_t *info, void *ctx) {
    (void)ctx;
    pending_signal = sig;
    pid_t pid = (pid_t)child_pid;
    if (pid > 0 && info->si_code != SI_KERNEL) kill(pid, sig);
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP};

static int install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; ++i)
        if (sigaction(forwarded[i], &sa, NULL) != 0) return -1;
    return 0;
}

/* From the library's renewal thread: a renewal found the token gone, or renewals failed until the TTL ran out. */
static void on_lost(redlock_lock *lock, int reason, void *arg) {
    (void)lock;
    (void)arg;
    atomic_store(&lost_reason, reason);
    pid_t pid = (pid_t)child_pid;
    if (atomic_load(&keep_running)) {
        say("warning: the lock was lost (%s); the command keeps running without it (--keep-running)",
            redlock_strerror(reason));
    } else {
        say("the lock was lost (%s): sending SIGTERM to the command", redlock_strerror(reason));
        if (pid > 0) kill(pid, SIGTERM);
    }
}

/* ---- output ----------------------------------------------------------------------------------------------------- */

/* A JSON string: bytes outside printable ASCII as \u00XX (a value is bytes, not text: each byte one code point). */
static void json_string(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* The value for people: printable ASCII as is, other bytes as \xNN, at most 96 bytes shown. */
static void human_string(FILE *f, const char *s, size_t shown, size_t whole) {
    for (size_t i = 0; i < shown && i < 96; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') fputc(c, f);
        else fprintf(f, "\\x%02x", c);
    }
    if (whole > 96 || shown < whole) fputs("...", f);
}

static int is_hex32(const char *v, size_t n) {
    if (n != 32) return 0;
    for (size_t i = 0; i < n; ++i)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f'))) return 0;
    return 1;
}

/* What kind of owner wrote this value. libredlock's tokens (0.5 on) are random UUIDs (version 4) in hex;
 * redis-py's are uuid1().hex: a time-based UUID (version 1), whose time we can show. */
static const char *token_kind(const char *v, size_t n) {
    if (!is_hex32(v, n)) return "other";
    int variant = v[16] == '8' || v[16] == '9' || v[16] == 'a' || v[16] == 'b';
    if (variant && v[12] == '4') return "libredlock";
    if (variant && v[12] == '1') return "redis-py";
    return "hex32";
}

/* A version-1 UUID's time as UTC ISO 8601: 100 ns units since 1582-10-15, in time_hi (after the version nibble),
 * time_mid and time_low. */
static int uuid1_time(const char *v, char *out, size_t cap) {
    char hi[4] = {v[13], v[14], v[15], 0}, mid[5] = {v[8], v[9], v[10], v[11], 0}, low[9];
    memcpy(low, v, 8);
    low[8] = 0;
    uint64_t t = (strtoull(hi, NULL, 16) << 48) | (strtoull(mid, NULL, 16) << 32) | strtoull(low, NULL, 16);
    const uint64_t gregorian_to_unix = 0x01B21DD213814000ULL;
    if (t < gregorian_to_unix) return -1;
    time_t secs = (time_t)((t - gregorian_to_unix) / 10000000ULL);
    struct tm tm;
    if (!gmtime_r(&secs, &tm) || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return -1;
    return 0;
}

static const char *kind_text(const char *kind) {
    if (strcmp(kind, "libredlock") == 0) return "a libredlock token (random UUID)";
    if (strcmp(kind, "redis-py") == 0) return "a redis-py token (uuid1)";
    if (strcmp(kind, "hex32") == 0) return "32 hex digits: libredlock before 0.5, node-redlock or another random token";
    return "not a libredlock or redis-py token";
}

/* ---- the client ------------------------------------------------------------------------------------------------- */

static int open_lock(const struct args *a, redlock_client **client, redlock_lock **lock) {
    int rc = a->n_urls == 1 ? redlock_client_new(client, a->urls[0], NULL)
                            : redlock_client_new_quorum(client, a->urls, a->n_urls, NULL);
    if (rc != REDLOCK_OK) return fail_with(rc, "bad server URL");
    redlock_lock_options o;
    redlock_lock_options_init(&o);
    o.timeout_ms = to_ms(a->ttl_s);
    o.sleep_ms = to_ms(a->sleep_s);
    if (a->mode == MODE_RUN) {
        o.auto_renew = 1;
        o.on_lost = on_lost;
    }
    rc = redlock_lock_new(lock, *client, a->name, &o, REDLOCK_SHARED);
    if (rc != REDLOCK_OK) {
        redlock_client_free(*client);
        *client = NULL;
        return fail_with(rc, "cannot make the lock");
    }
    return 0;
}

/* ---- sub-commands ----------------------------------------------------------------------------------------------- */

static int cmd_status(const struct args *a, redlock_lock *lock) {
    int64_t ttl = -2;
    size_t len = 0;
    static char value[REDLOCK_MAX_TOKEN_LEN + 1];
    int held = redlock_lock_status(lock, &ttl, value, sizeof value, &len);
    if (held < 0) return fail_with(held, "cannot read the lock");
    size_t shown = len < REDLOCK_MAX_TOKEN_LEN ? len : REDLOCK_MAX_TOKEN_LEN;
    const char *kind = held && (len > 0) ? token_kind(value, len) : NULL;
    char when[32] = "";
    if (kind && strcmp(kind, "redis-py") == 0 && uuid1_time(value, when, sizeof when) != 0) when[0] = '\0';
    if (a->json) {
        printf("{\"name\": ");
        json_string(stdout, a->name, strlen(a->name));
        printf(", \"held\": %s, \"ttl_ms\": ", held ? "true" : "false");
        if (held && ttl >= 0) printf("%lld", (long long)ttl);
        else printf("null");
        printf(", \"value\": ");
        if (held && len > 0) json_string(stdout, value, shown);
        else printf("null");
        printf(", \"value_bytes\": %zu, \"kind\": ", len);
        if (kind) printf("\"%s\"", kind);
        else printf("null");
        if (when[0]) printf(", \"token_time\": \"%s\"", when);
        printf("}\n");
    } else if (!held) {
        printf("%s: free\n", a->name);
    } else {
        printf("%s: held", a->name);
        if (ttl >= 0) printf(", expires in %.3f s\n", (double)ttl / 1000.0);
        else printf(", never expires (no TTL)\n");
        if (len > 0) {
            printf("  value: ");
            human_string(stdout, value, shown, len);
            printf(" (%zu bytes)\n  kind:  %s", len, kind_text(kind));
            if (when[0]) printf(", made %s", when);
            printf("\n");
        } else {
            printf("  value: no one value on a majority of the masters\n");
        }
    }
    return held ? 0 : a->conflict_code;
}

static int cmd_release(const struct args *a, redlock_lock *lock) {
    int rc = redlock_lock_release_token(lock, a->token, strlen(a->token));
    if (rc != REDLOCK_OK && rc != REDLOCK_ENOTOWNED) return fail_with(rc, "cannot release");
    if (a->json) {
        printf("{\"name\": ");
        json_string(stdout, a->name, strlen(a->name));
        printf(", \"released\": %s}\n", rc == REDLOCK_OK ? "true" : "false");
    } else if (rc == REDLOCK_OK) {
        printf("%s: released\n", a->name);
    } else {
        printf("%s: not released: the lock does not hold that token\n", a->name);
    }
    return rc == REDLOCK_OK ? 0 : a->conflict_code;
}

static int cmd_wait(const struct args *a, redlock_lock *lock) {
    const double start = now_s();
    for (;;) {
        int held = redlock_lock_locked(lock);
        if (held < 0) return fail_with(held, "cannot read the lock");
        double waited = now_s() - start;
        if (!held || (a->wait_s >= 0 && waited >= a->wait_s) || pending_signal) {
            if (pending_signal && held) return 128 + pending_signal;
            if (a->json) {
                printf("{\"name\": ");
                json_string(stdout, a->name, strlen(a->name));
                printf(", \"free\": %s, \"waited_ms\": %lld}\n", held ? "false" : "true", (long long)(waited * 1000));
            }
            if (a->verbose) say("%s is %s after %.3f s", a->name, held ? "still held" : "free", waited);
            return held ? a->conflict_code : 0;
        }
        double pause = a->sleep_s;
        if (a->wait_s >= 0 && a->wait_s - waited < pause) pause = a->wait_s - waited;
        struct timespec ts = {(time_t)pause, (long)((pause - (double)(time_t)pause) * 1e9)};
        nanosleep(&ts, NULL); /* a signal cuts it short */
    }
}

/* Acquire, in slices of SLICE_MS so that a signal ends the wait. 0: acquired; 1: still held when the wait ran out
 * (or a signal came); else an exit status. */
static int acquire(const struct args *a, redlock_lock *lock, double *took) {
    const double start = now_s();
    for (;;) {
        redlock_acquire_options o;
        redlock_acquire_options_init(&o);
        o.set = REDLOCK_ACQ_BLOCKING | REDLOCK_ACQ_BLOCKING_TIMEOUT;
        double left = a->wait_s < 0 ? 1e9 : a->wait_s - (now_s() - start);
        o.blocking = left > 0;
        o.blocking_timeout_ms = left <= 0 ? 0 : left * 1000 < SLICE_MS ? to_ms(left) : SLICE_MS;
        int rc = redlock_lock_acquire_ex(lock, &o);
        *took = now_s() - start;
        if (rc == REDLOCK_OK) return 0;
        if (rc != REDLOCK_NOT_ACQUIRED) return fail_with(rc, "cannot take the lock");
        if (pending_signal || left <= (double)SLICE_MS / 1000.0) return 1;
    }
}

static int spawn_command(const struct args *a, pid_t *pid) {
    posix_spawnattr_t attr;
    sigset_t defaults;
    sigemptyset(&defaults);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; ++i) sigaddset(&defaults, forwarded[i]);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    char *sh_argv[] = {"sh", "-c", (char *)a->shell_command, NULL};
    char **argv = a->shell_command ? sh_argv : a->command;
    int err = posix_spawnp(pid, argv[0], NULL, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    if (err == 0) return 0;
    say("cannot run %s: %s", argv[0], strerror(err));
    return err == ENOENT ? EXIT_NOT_FOUND : (err == EACCES || err == ENOEXEC || err == EISDIR) ? EXIT_CANNOT_EXEC
                                                                                               : EXIT_OSERR;
}

static int cmd_run(const struct args *a, redlock_lock *lock) {
    double took = 0;
    int rc = acquire(a, lock, &took);
    if (rc == 1) {
        if (pending_signal) return 128 + pending_signal;
        if (a->verbose) say("%s is held by another owner; gave up after %.3f s", a->name, took);
        return a->conflict_code;
    }
    if (rc != 0) return rc;
    if (a->verbose) say("acquired %s after %.3f s (TTL %g s, renewed every %g s)", a->name, took, a->ttl_s, a->ttl_s / 3);

    int status = 0;
    pid_t pid = 0;
    if (pending_signal) { /* came while acquiring: do not start the command */
        status = 128 + pending_signal;
    } else if ((status = spawn_command(a, &pid)) == 0) {
        child_pid = pid;
        if (atomic_load(&lost_reason) && !atomic_load(&keep_running)) kill(pid, SIGTERM); /* lost before the spawn */
        /* Wait without reaping first: child_pid is cleared while the pid cannot yet be reused, so a late signal is
         * never sent to another process. */
        siginfo_t info;
        while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
        }
        child_pid = 0;
        int ws = 0;
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
        }
        status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : EXIT_SOFTWARE;
        if (a->verbose) say("the command exited with status %d", status);
    }

    int released = redlock_lock_release(lock);
    if (released == REDLOCK_ENOTOWNED && !atomic_load(&lost_reason)) {
        atomic_store(&lost_reason, REDLOCK_ENOTOWNED);
        say("%sthe lock had expired or been taken before the command finished", atomic_load(&keep_running) ? "warning: " : "");
    } else if (released != REDLOCK_OK && released != REDLOCK_ENOTOWNED) {
        say("warning: could not release %s (%s: %s); it expires within its TTL (%g s)", a->name,
            redlock_strerror(released), detail(), a->ttl_s);
    } else if (released == REDLOCK_OK && a->verbose) {
        say("released %s", a->name);
    }
    if (atomic_load(&lost_reason) && !atomic_load(&keep_running)) return EXIT_LOST;
    return status;
}

/* ---- arguments -------------------------------------------------------------------------------------------------- */

enum { OPT_SLEEP = 1000, OPT_TOKEN, OPT_JSON };

static const struct option long_options[] = {
    {"url", required_argument, NULL, 'u'},
    {"nonblock", no_argument, NULL, 'n'},
    {"nb", no_argument, NULL, 'n'},
    {"wait", required_argument, NULL, 'w'},
    {"timeout", required_argument, NULL, 'w'},
    {"conflict-exit-code", required_argument, NULL, 'E'},
    {"ttl", required_argument, NULL, 't'},
    {"sleep", required_argument, NULL, OPT_SLEEP},
    {"command", required_argument, NULL, 'c'},
    {"keep-running", no_argument, NULL, 'k'},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"json", no_argument, NULL, OPT_JSON},
    {"verbose", no_argument, NULL, 'v'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Options, from argv[optind] on. `in_order`: stop at the first operand (the run form, whose COMMAND has options of
 * its own). Returns -1 to go on, else an exit status. */
static int parse_options(int argc, char **argv, int in_order, struct args *a) {
    const char *shortopts = in_order ? "+u:nw:E:t:c:kvVh" : "u:nw:E:t:c:kvVh";
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, long_options, NULL)) != -1) {
        switch (c) {
        case 'u':
            if (a->n_urls == MAX_URLS) return usage_error("at most %d URLs", MAX_URLS);
            a->urls[a->n_urls++] = optarg;
            break;
        case 'n': a->wait_s = 0; break;
        case 'w':
            if (parse_seconds(optarg, "--wait", &a->wait_s)) return EXIT_USAGE;
            break;
        case 'E': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno || v < 0 || v > 255)
                return usage_error("--conflict-exit-code: '%s' is not a number from 0 to 255", optarg);
            a->conflict_code = (int)v;
            break;
        }
        case 't':
            if (parse_seconds(optarg, "--ttl", &a->ttl_s)) return EXIT_USAGE;
            if (to_ms(a->ttl_s) < 1) return usage_error("--ttl: the TTL must be at least 0.001 s");
            break;
        case OPT_SLEEP:
            if (parse_seconds(optarg, "--sleep", &a->sleep_s)) return EXIT_USAGE;
            break;
        case 'c': a->shell_command = optarg; break;
        case 'k': a->keep_running = 1; break;
        case OPT_TOKEN: a->token = optarg; break;
        case OPT_JSON: a->json = 1; break;
        case 'v': a->verbose = 1; break;
        case 'V':
            printf("redlock %s (libredlock %s)\n", REDLOCK_VERSION_STRING, redlock_version());
            return 0;
        case 'h': fputs(usage_text, stdout); return 0;
        default:
            if (optopt && optopt < 256 && strchr("unwEtck", optopt) && strchr(shortopts, optopt))
                return usage_error("option -%c needs an argument", optopt);
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    return -1;
}

static int parse(int argc, char **argv, struct args *a) {
    int r = parse_options(argc, argv, 1, a);
    if (r >= 0) return r;
    if (optind >= argc) return usage_error("no lock NAME given");
    const char *word = argv[optind];
    if (strcmp(word, "status") == 0) a->mode = MODE_STATUS;
    else if (strcmp(word, "release") == 0) a->mode = MODE_RELEASE;
    else if (strcmp(word, "wait") == 0) a->mode = MODE_WAIT;
    if (a->mode != MODE_RUN || strcmp(word, "run") == 0) {
        /* A sub-command: its own options may follow it, before or after NAME (run: before NAME only). */
        int sub_argc = argc - optind;
        char **sub_argv = argv + optind;
        optind = 0; /* glibc: start over on the new array */
        r = parse_options(sub_argc, sub_argv, a->mode == MODE_RUN, a);
        if (r >= 0) return r;
        argc = sub_argc;
        argv = sub_argv;
    }
    if (optind >= argc) return usage_error("no lock NAME given");
    a->name = argv[optind++];
    if (a->mode == MODE_RUN) {
        /* flock's form: NAME -c SHELL-COMMAND */
        if (optind < argc && (strcmp(argv[optind], "-c") == 0 || strcmp(argv[optind], "--command") == 0)) {
            if (optind + 1 >= argc) return usage_error("option %s needs an argument", argv[optind]);
            if (a->shell_command) return usage_error("-c given twice");
            a->shell_command = argv[optind + 1];
            optind += 2;
        } else if (optind < argc && strcmp(argv[optind], "--") == 0) {
            ++optind;
        }
        if (a->shell_command && optind < argc) return usage_error("give either -c SHELL-COMMAND or COMMAND, not both");
        if (!a->shell_command && optind >= argc) return usage_error("no COMMAND given to run under %s", a->name);
        a->command = argv + optind;
        if (a->json) return usage_error("--json is for status, release and wait");
    } else {
        if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
        if (a->shell_command || a->keep_running) return usage_error("-c and -k are for running a command");
    }
    if ((a->mode == MODE_RELEASE) != (a->token != NULL))
        return usage_error(a->token ? "--token is for release" : "release needs --token TOKEN");
    if (a->n_urls == 0) {
        const char *env = getenv("REDLOCK_URL");
        a->urls[a->n_urls++] = env && *env ? env : DEFAULT_URL;
    }
    return -1;
}

int main(int argc, char **argv) {
    struct args a = {.mode = MODE_RUN, .wait_s = -1, .ttl_s = 30, .sleep_s = 0.1,
                     .conflict_code = EXIT_CONFLICT_DEFAULT};
    int r = parse(argc, argv, &a);
    if (r >= 0) return r;
    atomic_store(&keep_running, a.keep_running);
    if (install_signals() != 0) {
        say("cannot install signal handlers: %s", strerror(errno));
        return EXIT_OSERR;
    }
    redlock_client *client = NULL;
    redlock_lock *lock = NULL;
    if ((r = open_lock(&a, &client, &lock)) != 0) return r;
    switch (a.mode) {
    case MODE_STATUS: r = cmd_status(&a, lock); break;
    case MODE_RELEASE: r = cmd_release(&a, lock); break;
    case MODE_WAIT: r = cmd_wait(&a, lock); break;
    default: r = cmd_run(&a, lock); break;
    }
    redlock_lock_free(lock);
    redlock_client_free(client);
    fflush(stdout);
    return r;
}
