/* redlock: flock(1) for a Redis lock. Runs a command while holding a lock that every machine sharing the Redis server
 * sees, renewing it while the command runs, and releasing it when the command exits. Plus status, release and wait for
 * operators. Built on the public C API only (a user of libredlock could have written it); docs/redlock.1 is its
 * manual, and this file, the man page and --help must agree (tests/cli/ checks it). */
#define _GNU_SOURCE /* getopt_long, SI_KERNEL, pipe2 */
#include <redlock/redlock.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/stat.h>
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
    EXIT_OSERR = 71,       /* the system refused: no process could be started, the output cannot be written */
    EXIT_LOST = 75,        /* the lock was lost while the command ran; the command was sent SIGTERM (EX_TEMPFAIL) */
    EXIT_NOPERM = 77,      /* the server refused the credentials or a permission (EX_NOPERM) */
    EXIT_CANNOT_EXEC = 126,
    EXIT_NOT_FOUND = 127
};

#define DEFAULT_URL "redis://127.0.0.1:6379"
#define MAX_URLS REDLOCK_MAX_MASTERS
#define SLICE_MS 200 /* a waiting acquire returns at least this often (or every --sleep), to notice a signal */
#define MIN_TTL_S 0.1 /* renewals every TTL/3 must have time to reach the server */

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
    "  -n, --nonblock                fail at once if the lock is held (same as -w 0; wins over -w)\n"
    "  -w, --wait, --timeout SECONDS give up after SECONDS (default: wait as long as it takes)\n"
    "  -E, --conflict-exit-code N    exit status when the lock stays held (default 1)\n"
    "  -t, --ttl SECONDS             the lock's TTL (at least 0.1), renewed every TTL/3 while COMMAND runs\n"
    "                                (default 30)\n"
    "      --sleep SECONDS           pause between attempts while waiting (default 0.1, at least 0.01)\n"
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
    "70 internal error; 71 system error (also: output not written); 75 lock lost while COMMAND ran;\n"
    "77 credentials or permission refused; 126 COMMAND cannot run; 127 COMMAND not found.\n"
    "SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGALRM are passed to COMMAND; the lock is released\n"
    "when it and every process it left running have exited. If redlock is killed, COMMAND gets SIGTERM.\n"
    "Options go before NAME (status, release and wait also take them after it). See redlock(1).\n";

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
    int nonblock;  /* -n: wins over -w, in any order, as flock's */
    int url_from_env;
    double ttl_s;
    double sleep_s;
    int conflict_code;
    int keep_running;
    int json;
    int verbose;
};

/* ---- messages ------------------------------------------------------------------------------------------------- */

/* "redlock: " + the message + `tail`, on stderr. */
static void vsay(const char *tail, const char *fmt, va_list ap) {
    fputs("redlock: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(tail, stderr);
}

static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay("\n", fmt, ap);
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
    vsay("\nTry 'redlock --help' for more information.\n", fmt, ap);
    va_end(ap);
    return EXIT_USAGE;
}

/* ---- numbers and time ------------------------------------------------------------------------------------------- */

/* Seconds as a decimal number, 0 .. 1e9 (the library's longest duration). */
static int parse_seconds(const char *s, const char *option, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* Plain decimals only: strtod would also take "0x2", "1e3", "inf" and leading blanks. */
    if (strspn(s, "0123456789.") != strlen(s) || end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < 0 ||
        v > 1e9)
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

/* Lock-free atomics: read and written by the signal handler, the main thread and the library's renewal thread. */
static atomic_int child_pid;      /* > 0 while COMMAND runs */
static atomic_int pending_signal; /* the last forwarded signal received */
static atomic_int lost_reason;    /* != 0 once the lock was lost (the library's code) */
static atomic_int keep_running;
static atomic_int forward_anyway[65]; /* pending when COMMAND was started: forwarded even from a terminal */
static atomic_int pass_on[65];        /* sent by a process: to pass on to the command's leftovers too */
static atomic_int stop_signal;        /* SIGTERM, SIGINT or SIGQUIT received: the job is being stopped */

/* The handled signals are blocked everywhere except while the main thread waits for them (wait_for_signal): the
 * library's threads, started later, inherit the mask, so every signal is handled on the main thread, and no wait
 * misses one that came just before it (pselect unblocks and sleeps in one step). start_mask: the mask redlock was
 * started with, which COMMAND gets; wait_mask: the same without the handled signals, even if they came blocked. */
static sigset_t handled, start_mask, wait_mask;

/* Forward to COMMAND, except a terminal's signals (SI_KERNEL): the terminal sends those to the whole foreground
 * process group, COMMAND included, and a second copy would hit a command that handles the first. Unless it came
 * before COMMAND existed (forward_anyway). */
static void on_signal(int sig, siginfo_t *info, void *ctx) {
    (void)ctx;
    atomic_store(&pending_signal, sig);
    pid_t pid = (pid_t)atomic_load(&child_pid);
    const int early = sig > 0 && sig < 65 && atomic_exchange(&forward_anyway[sig], 0);
    const int stop = sig == SIGTERM || sig == SIGINT || sig == SIGQUIT;
    /* A terminal's signal reached the command only if it is in redlock's process group (`timeout` makes its own). */
    if (pid > 0 && (info->si_code != SI_KERNEL || early || getpgid(pid) != getpgrp())) kill(pid, sig);
    if (pid > 0 && stop) kill(pid, SIGCONT); /* a stopped command would keep it pending (a terminal's too), and the lock */
    if (sig > 0 && sig < 65 && info->si_code != SI_KERNEL) atomic_store(&pass_on[sig], 1);
    if (stop) atomic_store(&stop_signal, sig);
}

static void on_child(int sig) { (void)sig; } /* only to end a wait */

/* Passed on to COMMAND: every signal whose default is to end a process and that a job may be sent (a service
 * manager's stop, reload and dump signals included), so that none kills redlock and leaves COMMAND unrenewed. */
static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM};
#define N_FORWARDED (sizeof forwarded / sizeof forwarded[0])

/* For run and wait (status and release have nothing to forward or clean up: signals keep their defaults there). */
static int install_signals(void) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&handled);
    sigaddset(&handled, SIGCHLD);
    for (size_t i = 0; i < N_FORWARDED; ++i) {
        /* A signal ignored when redlock started (nohup, a background job's SIGINT) stays ignored, for COMMAND too. */
        if (sigaction(forwarded[i], NULL, &old) != 0) return -1;
        if (old.sa_handler == SIG_IGN) continue;
        if (sigaction(forwarded[i], &sa, NULL) != 0) return -1;
        sigaddset(&handled, forwarded[i]);
    }
    struct sigaction child;
    memset(&child, 0, sizeof child);
    child.sa_handler = on_child;
    child.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigemptyset(&child.sa_mask);
    if (sigaction(SIGCHLD, &child, NULL) != 0) return -1;
    if (pthread_sigmask(SIG_BLOCK, &handled, &start_mask) != 0) return -1;
    wait_mask = start_mask;
    for (int sig = 1; sig < 65; ++sig)
        if (sigismember(&handled, sig) == 1) sigdelset(&wait_mask, sig);
    return 0;
}

/* Sleep until a handled signal comes or `timeout` passes (NULL: no limit); a signal already pending runs at once. */
static void wait_for_signal(const struct timespec *timeout) { pselect(0, NULL, NULL, NULL, timeout, &wait_mask); }

/* Let the signals that came while blocked run their handlers now. */
static void take_pending_signals(void) {
    pthread_sigmask(SIG_SETMASK, &wait_mask, NULL);
    pthread_sigmask(SIG_BLOCK, &handled, NULL);
}

/* From the library's renewal thread: a renewal found the token gone, or renewals failed until the TTL ran out. */
static void on_lost(redlock_lock *lock, int reason, void *arg) {
    (void)lock;
    (void)arg;
    atomic_store(&lost_reason, reason);
    pid_t pid = (pid_t)atomic_load(&child_pid);
    if (!atomic_load(&keep_running) && pid > 0) { /* first: the message could fail or block */
        kill(pid, SIGTERM);
        kill(pid, SIGCONT);
    }
    char why[160];
    if (reason == REDLOCK_ENOTOWNED)
        snprintf(why, sizeof why, "its key was taken, deleted or expired");
    else
        snprintf(why, sizeof why, "renewals failed until its TTL may have run out: %s", redlock_strerror(reason));
    if (atomic_load(&keep_running))
        say("warning: the lock was lost (%s); %s without it (--keep-running)", why,
            pid > 0 ? "the command keeps running" : "what the command left running keeps running");
    else
        say("the lock was lost (%s): %s", why,
            pid > 0 ? "the command was sent SIGTERM" : "what the command left running is sent SIGTERM");
}

/* ---- output ----------------------------------------------------------------------------------------------------- */

/* Whether s[0..n) is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
static int is_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        if (len == 0 || i + len > n) return 0;
        unsigned cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
        for (size_t k = 1; k < len; ++k) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        static const unsigned min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += len;
    }
    return 1;
}

/* How many bytes of a value cut at `n` to show as text: all of them, or, when the cut split a UTF-8 character (a
 * lead byte and fewer continuation bytes than it announces, as a UTF-8 decoder would still accept) of a value that is
 * UTF-8 up to there, the bytes before that character. */
static size_t utf8_cut(const unsigned char *s, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; ++back) {
        const unsigned char c = s[n - back];
        if ((c & 0xc0) == 0x80) continue; /* a continuation byte: look further back */
        const size_t need = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (need <= back) return n; /* complete, or not a lead byte at all */
        if (back >= 2) { /* the second byte's range depends on the lead */
            const unsigned char c2 = s[n - back + 1];
            if ((c == 0xe0 && c2 < 0xa0) || (c == 0xed && c2 > 0x9f) || (c == 0xf0 && c2 < 0x90) ||
                (c == 0xf4 && c2 > 0x8f))
                return n;
        }
        return is_utf8(s, n - back) ? n - back : n; /* invalid before: bytes, not text, shown whole */
    }
    return n;
}

/* A JSON string. Text that is UTF-8 is written as such (control characters, DEL, quote and backslash escaped);
 * other bytes (a value is bytes, not text) each as one \u00XX. */
static void json_string(FILE *f, const char *s, size_t n) {
    const int utf8 = is_utf8((const unsigned char *)s, n);
    fputc('"', f);
    for (size_t i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* The start of a --json answer: `{"name": "...", ` (each sub-command's fields follow). */
static void json_begin(const struct args *a) {
    printf("{\"name\": ");
    json_string(stdout, a->name, strlen(a->name));
    printf(", ");
}

/* A name for people (messages, status text): UTF-8 as is, with control characters, DEL and backslash as \xNN; a name
 * that is not UTF-8 also has its other non-ASCII bytes as \xNN. One line, whatever the name holds. */
static const char *display(const char *name) {
    static char *buf;
    static size_t cap;
    const size_t n = strlen(name);
    if (cap < 4 * n + 1) {
        char *b = realloc(buf, 4 * n + 1);
        if (!b) return "(a name too long to show)";
        buf = b;
        cap = 4 * n + 1;
    }
    const int utf8 = is_utf8((const unsigned char *)name, n);
    char *o = buf;
    for (size_t i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == '\\' || (c >= 0x80 && !utf8)) o += sprintf(o, "\\x%02x", c);
        else *o++ = (char)c;
    }
    *o = '\0';
    return buf;
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
    if (rc != REDLOCK_OK) return fail_with(rc, a->url_from_env ? "bad server URL in $REDLOCK_URL" : "bad server URL");
    if (a->n_urls == 2)
        say("warning: two masters give no fault tolerance (a majority of 2 is both): use 3 or 5");
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
    int rc = redlock_lock_status(lock, &ttl, value, sizeof value, &len);
    if (rc < 0) return fail_with(rc, "cannot read the lock");
    const int held = rc != 0, known = rc == 1; /* 2: held on a majority of masters, but no one value on one */
    size_t shown = len < REDLOCK_MAX_TOKEN_LEN ? len : REDLOCK_MAX_TOKEN_LEN;
    const char *kind = known ? token_kind(value, len) : NULL;
    char when[32] = "";
    if (kind && strcmp(kind, "redis-py") == 0 && uuid1_time(value, when, sizeof when) != 0) when[0] = '\0';
    if (a->json) {
        json_begin(a);
        printf("\"held\": %s, \"ttl_ms\": ", held ? "true" : "false");
        if (held && ttl >= 0) printf("%lld", (long long)ttl);
        else printf("null");
        printf(", \"value\": ");
        if (known) json_string(stdout, value, shown < len ? utf8_cut((const unsigned char *)value, shown) : shown);
        else printf("null");
        printf(", \"value_bytes\": %zu, \"kind\": ", len);
        if (kind) printf("\"%s\"", kind);
        else printf("null");
        if (when[0]) printf(", \"token_time\": \"%s\"", when);
        printf("}\n");
    } else if (!held) {
        printf("%s: free\n", display(a->name));
    } else {
        printf("%s: held", display(a->name));
        if (ttl >= 0) printf(", expires in %.3f s\n", (double)ttl / 1000.0);
        else printf(", never expires (no TTL)\n");
        if (!known) {
            printf("  value: no one value on a majority of the masters\n");
        } else {
            printf("  value: ");
            if (len == 0) printf("(empty)");
            human_string(stdout, value, shown, len);
            printf(" (%zu bytes)\n  kind:  %s", len, kind_text(kind));
            if (when[0]) printf(", made %s", when);
            printf("\n");
        }
    }
    return held ? 0 : a->conflict_code;
}

static int cmd_release(const struct args *a, redlock_lock *lock) {
    int rc = redlock_lock_release_token(lock, a->token, strlen(a->token));
    if (rc != REDLOCK_OK && rc != REDLOCK_ENOTOWNED) return fail_with(rc, "cannot release");
    /* Not released: say whether the lock is free or held by another token. */
    int held = rc == REDLOCK_OK ? 0 : redlock_lock_status(lock, NULL, NULL, 0, NULL);
    if (held < 0) return fail_with(held, "cannot read the lock");
    if (a->json) {
        json_begin(a);
        printf("\"released\": %s, \"held\": %s}\n", rc == REDLOCK_OK ? "true" : "false", held ? "true" : "false");
    } else if (rc == REDLOCK_OK) {
        printf("%s: released\n", display(a->name));
    } else {
        printf("%s: not released: %s\n", display(a->name), held ? "it holds another token" : "the lock is free");
    }
    return rc == REDLOCK_OK ? 0 : a->conflict_code;
}

static int cmd_wait(const struct args *a, redlock_lock *lock) {
    const double start = now_s();
    for (;;) {
        int held = redlock_lock_locked(lock);
        take_pending_signals();
        if (held < 0) return atomic_load(&pending_signal) ? 128 + atomic_load(&pending_signal)
                                                          : fail_with(held, "cannot read the lock");
        double waited = now_s() - start;
        const int sig = atomic_load(&pending_signal);
        if (!held || (a->wait_s >= 0 && waited >= a->wait_s) || sig) {
            if (sig && held) return 128 + sig;
            if (a->json) {
                json_begin(a);
                printf("\"free\": %s, \"waited_ms\": %lld}\n", held ? "false" : "true", (long long)(waited * 1000));
            }
            if (a->verbose) say("%s is %s after %.3f s", display(a->name), held ? "still held" : "free", waited);
            return held ? a->conflict_code : 0;
        }
        double pause = a->sleep_s;
        if (a->wait_s >= 0 && a->wait_s - waited < pause) pause = a->wait_s - waited;
        struct timespec ts = {(time_t)pause, (long)((pause - (double)(time_t)pause) * 1e9)};
        wait_for_signal(&ts); /* a signal cuts it short */
    }
}

/* Acquire, in slices so that a signal ends the wait: each slice is one attempt, then a wait in the library (woken
 * by a release, trying again every --sleep), so a slice lasts max(SLICE_MS, --sleep) and attempts come no more
 * often than --sleep asks. 0: acquired; 1: still held when the wait ran out (or a signal came); else an exit
 * status. */
static int acquire(const struct args *a, redlock_lock *lock, double *took) {
    const double start = now_s();
    const int64_t slice_ms = to_ms(a->sleep_s) > SLICE_MS ? to_ms(a->sleep_s) : SLICE_MS;
    for (;;) {
        redlock_acquire_options o;
        redlock_acquire_options_init(&o);
        o.set = REDLOCK_ACQ_BLOCKING | REDLOCK_ACQ_BLOCKING_TIMEOUT;
        double left = a->wait_s < 0 ? 1e9 : a->wait_s - (now_s() - start);
        o.blocking = left > 0;
        o.blocking_timeout_ms = left <= 0 ? 0 : left * 1000 < (double)slice_ms ? to_ms(left) : slice_ms;
        int rc = redlock_lock_acquire_ex(lock, &o);
        *took = now_s() - start;
        if (rc == REDLOCK_OK) return 0;
        if (rc != REDLOCK_NOT_ACQUIRED) {
            take_pending_signals();
            /* A signal that came during a failed attempt (a server not answering) is what ends redlock. */
            int code = atomic_load(&pending_signal) ? 128 + atomic_load(&pending_signal)
                                                    : fail_with(rc, "cannot take the lock");
            /* A SET whose reply was lost may still land: its token is kept, and a release deletes the key only if it
             * holds that token (harmless if it never landed). Best effort: the TTL bounds it otherwise. */
            (void)redlock_lock_release(lock);
            return code;
        }
        take_pending_signals();
        if (atomic_load(&pending_signal) || left * 1000 <= (double)slice_ms) return 1;
    }
}

/* The program to run, found on $PATH here rather than in the child: after fork() in a threaded process, the child
 * should only exec. NULL with errno set when there is none. */
static const char *find_program(const char *name, char *buf, size_t cap) {
    if (strchr(name, '/')) return name;
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin"; /* unset; set but empty is one empty entry: "." */
    int err = ENOENT;
    for (const char *p = path;; ++p) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        struct stat st;
        /* An empty entry is the current directory, as in a shell. */
        if ((size_t)snprintf(buf, cap, "%.*s/%s", n ? (int)n : 1, n ? p : ".", name) < cap && stat(buf, &st) == 0 &&
            S_ISREG(st.st_mode)) {
            if (access(buf, X_OK) == 0) return buf;
            err = EACCES;
        }
        if (!end) break;
        p = end;
    }
    errno = err;
    return NULL;
}

/* What starting the command needs, made before the last look at pending signals, so that nothing slow comes between
 * that look and the fork. */
struct launch {
    char **argv;
    const char *file;
    char **script_argv; /* /bin/sh FILE ARGS..., for a file without #! */
    int fds[2];         /* an exec failure comes back through it; it closes on exec */
    char *sh_argv[4];
};

static int prepare_command(const struct args *a, struct launch *l) {
    static char found[4096];
    l->sh_argv[0] = "sh";
    l->sh_argv[1] = "-c";
    l->sh_argv[2] = (char *)a->shell_command;
    l->sh_argv[3] = NULL;
    l->argv = a->shell_command ? l->sh_argv : a->command;
    l->file = a->shell_command ? "/bin/sh" : find_program(l->argv[0], found, sizeof found);
    if (!l->file) {
        say("cannot run %s: %s", l->argv[0], strerror(errno));
        return errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
    }
    size_t argc = 0;
    while (l->argv[argc]) ++argc;
    l->script_argv = calloc(argc + 2, sizeof *l->script_argv);
    if (!l->script_argv || pipe2(l->fds, O_CLOEXEC) != 0) {
        free(l->script_argv);
        say("cannot run %s: %s", l->argv[0], strerror(errno));
        return EXIT_OSERR;
    }
    l->script_argv[0] = "sh";
    l->script_argv[1] = (char *)l->file;
    for (size_t i = 1; i < argc; ++i) l->script_argv[i + 1] = l->argv[i];
    return 0;
}

/* Start the command. It gets SIGTERM if redlock dies (PR_SET_PDEATHSIG): killed with kill -9, redlock can no longer
 * renew or release, and the command must not run on without the lock. A file without #! runs with /bin/sh, as execvp
 * and shells do. Signals stay blocked in the child until its handlers are the defaults again: one that comes before
 * the exec acts as it would on the command. */
static int start_command(struct launch *l, pid_t *pid) {
    const pid_t parent = getpid();
    *pid = fork();
    if (*pid == 0) {
        close(l->fds[0]);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        for (size_t i = 0; i < N_FORWARDED; ++i)
            if (sigismember(&handled, forwarded[i]) == 1) signal(forwarded[i], SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        if (getppid() != parent) _exit(EXIT_LOST); /* redlock died before PR_SET_PDEATHSIG */
        pthread_sigmask(SIG_SETMASK, &start_mask, NULL);
        execv(l->file, l->argv);
        if (errno == ENOEXEC) execv("/bin/sh", l->script_argv);
        int err = errno;
        if (write(l->fds[1], &err, sizeof err) < 0) _exit(EXIT_CANNOT_EXEC);
        _exit(EXIT_CANNOT_EXEC);
    }
    int err = errno;
    close(l->fds[1]);
    free(l->script_argv);
    if (*pid < 0) {
        close(l->fds[0]);
        say("cannot start %s: %s", l->argv[0], strerror(err));
        return EXIT_OSERR;
    }
    /* Signals pending now came before the command existed, or while it started: a terminal's did not reach it. */
    sigset_t early;
    if (sigpending(&early) == 0)
        for (size_t i = 0; i < N_FORWARDED; ++i)
            if (sigismember(&early, forwarded[i]) == 1) atomic_store(&forward_anyway[forwarded[i]], 1);
    ssize_t n;
    while ((n = read(l->fds[0], &err, sizeof err)) < 0 && errno == EINTR) {
    }
    close(l->fds[0]);
    if (n <= 0) return 0; /* closed by the exec: running */
    while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR) {
    }
    say("cannot run %s: %s", l->argv[0], strerror(err));
    return err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
}

/* Pids, for the leftovers already sent SIGTERM. */
struct pids {
    pid_t *v;
    size_t n, cap;
};
static int pids_has(const struct pids *p, pid_t x) {
    for (size_t i = 0; i < p->n; ++i)
        if (p->v[i] == x) return 1;
    return 0;
}
static void pids_add(struct pids *p, pid_t x) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        pid_t *v = realloc(p->v, cap * sizeof *v);
        if (!v) return; /* it may get SIGTERM again: harmless */
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = x;
}
static void pids_remove(struct pids *p, pid_t x) {
    for (size_t i = 0; i < p->n; ++i)
        if (p->v[i] == x) p->v[i] = p->v[--p->n];
}

/* /proc describes this process (not another pid namespace's processes), or leftovers cannot be listed. */
static int proc_is_ours(void) {
    static int ours = -1;
    if (ours < 0) {
        FILE *f = fopen("/proc/self/stat", "r");
        int pid = 0;
        ours = f && fscanf(f, "%d", &pid) == 1 && pid == (int)getpid();
        if (f) fclose(f);
    }
    return ours;
}

/* redlock's children: what each thread's /proc/self/task/TID/children lists (a reparented orphan may be any
 * thread's), else a scan of /proc for processes whose parent is redlock. -1 when /proc cannot tell. */
static int read_children(struct pids *out) {
    out->n = 0;
    if (!proc_is_ours()) return -1;
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    char path[300];
    int listed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        listed = 1;
        long pid;
        while (fscanf(f, "%ld", &pid) == 1) pids_add(out, (pid_t)pid);
        fclose(f);
    }
    closedir(d);
    if (listed) return 0;
    /* A kernel without the children files: every process's parent, read from its stat. */
    const pid_t self = getpid();
    if (!(d = opendir("/proc"))) return -1;
    char buf[512];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *close_paren = strrchr(buf, ')'); /* after the command name, which may hold anything */
        int ppid = 0;
        char state;
        if (close_paren && sscanf(close_paren + 1, " %c %d", &state, &ppid) == 2 && ppid == self)
            pids_add(out, (pid_t)atoi(e->d_name));
    }
    closedir(d);
    return 0;
}

/* Whether a child is stopped (SIGSTOP, SIGTTIN...): its state in /proc/PID/stat. */
static int is_stopped(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *close_paren = strrchr(buf, ')');
    char state = 0;
    return close_paren && sscanf(close_paren + 1, " %c", &state) == 1 && (state == 'T' || state == 't');
}

/* Waits for the command, and then for what it left running: redlock is a subreaper (PR_SET_CHILD_SUBREAPER), so
 * those processes (background jobs, pipeline members whose shell died) become its children, and the lock is held
 * until the last has exited, as flock's lock is while any process holds its descriptor. Children redlock had before
 * the command (`inherited`: `daemon & exec redlock ...`) are not the job's: reaped, never signalled or waited for.
 * Meanwhile:
 *  - every child that exits is reaped at once (no zombies count against the user's process limit);
 *  - a signal sent to redlock by a process goes to the command (on_signal) and to the leftovers there are then;
 *  - once the job is being stopped (SIGTERM, SIGINT or SIGQUIT received, or the lock lost without --keep-running),
 *    every leftover gets SIGTERM and SIGCONT (a stopped one would keep SIGTERM pending), including those that become
 *    children later, once each;
 *  - after the command has exited, a stopped leftover gets SIGHUP and SIGCONT, once, as the kernel does to an
 *    orphaned process group with stopped members (which, reparented to redlock, its group no longer is).
 * Returns the command's exit status (128+N for signal N); `stopped_after` tells whether a stop came only after the
 * command had exited. */
static int supervise(pid_t cmd, const struct args *a, struct pids *inherited, int *stopped_after) {
    int status = -1, announced = 0, stop_at_exit = 0, warned = 0;
    struct pids termed = {NULL, 0, 0}, seen = {NULL, 0, 0}, kids = {NULL, 0, 0}, left = {NULL, 0, 0};
    double exited_at = 0;
    for (;;) {
        for (;;) { /* reap what has exited; the command's pid leaves child_pid before it can be reused */
            siginfo_t info;
            info.si_pid = 0;
            if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) break;
            if (info.si_pid == cmd) atomic_store(&child_pid, 0);
            int ws = 0;
            pid_t w;
            while ((w = waitpid(info.si_pid, &ws, 0)) < 0 && errno == EINTR) {
            }
            if (w == cmd) {
                status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : EXIT_SOFTWARE;
                stop_at_exit = atomic_load(&stop_signal);
                exited_at = now_s();
                if (a->verbose) say("the command exited with status %d", status);
            }
            if (w > 0) { /* its pid may be reused: by then it is no longer what these lists meant */
                pids_remove(&termed, w);
                pids_remove(&seen, w);
                pids_remove(inherited, w);
            }
        }
        siginfo_t any;
        if (waitid(P_ALL, 0, &any, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD) break; /* none left */
        const pid_t alive = (pid_t)atomic_load(&child_pid); /* the command got its signals from on_signal */
        const int listed = read_children(&kids) == 0;
        left.n = 0;
        for (size_t i = 0; listed && i < kids.n; ++i)
            if (kids.v[i] != alive && !pids_has(inherited, kids.v[i])) pids_add(&left, kids.v[i]);
        if (status >= 0 && listed && left.n == 0) break; /* only children that were never the job's */
        const int stopping =
            atomic_load(&stop_signal) || (atomic_load(&lost_reason) && !atomic_load(&keep_running));
        for (int sig = 1; sig < 65; ++sig) {
            if (!atomic_exchange(&pass_on[sig], 0)) continue;
            const int stop = sig == SIGTERM || sig == SIGINT || sig == SIGQUIT;
            for (size_t i = 0; i < left.n; ++i) {
                if (sig == SIGTERM && pids_has(&termed, left.v[i])) continue; /* sent once, as the stop below */
                if (sig == SIGTERM) pids_add(&termed, left.v[i]);
                kill(left.v[i], sig);
                if (stop) kill(left.v[i], SIGCONT);
            }
        }
        for (size_t i = 0; stopping && i < left.n; ++i) {
            if (pids_has(&termed, left.v[i])) continue;
            pids_add(&termed, left.v[i]);
            kill(left.v[i], SIGTERM);
            kill(left.v[i], SIGCONT);
        }
        /* The kernel's orphaned-group rule, at the moment it would apply: when a leftover is first seen after the
         * command has exited (it has just been orphaned), and is stopped then. One paused later is left alone. */
        for (size_t i = 0; status >= 0 && i < left.n; ++i) {
            if (pids_has(&seen, left.v[i])) continue;
            pids_add(&seen, left.v[i]);
            if (!is_stopped(left.v[i])) continue;
            kill(left.v[i], SIGHUP);
            kill(left.v[i], SIGCONT);
        }
        if (stopping && !listed && !warned) {
            warned = 1;
            say("warning: cannot list what the command left running (/proc is not this process's): not stopped");
        }
        if (status >= 0 && !announced && (a->verbose || now_s() - exited_at > 10)) {
            announced = 1;
            if (!listed)
                say("waiting for the processes the command left running (they cannot be listed here)");
            else if (atomic_load(&lost_reason))
                say("the lock is lost; waiting for %zu process(es) the command left running%s", left.n,
                    atomic_load(&keep_running) ? " (--keep-running)" : " (sent SIGTERM)");
            else
                say("waiting for %zu process(es) the command left running (the lock is held until they exit; %s)",
                    left.n, stopping ? "they were sent SIGTERM" : "SIGTERM or Ctrl-C to redlock stops them");
        }
        struct timespec tick = {0, 200 * 1000 * 1000}; /* on_lost comes from another thread, without a signal */
        wait_for_signal(&tick);
    }
    free(termed.v);
    free(seen.v);
    free(kids.v);
    free(left.v);
    *stopped_after = !stop_at_exit && atomic_load(&stop_signal);
    if (status < 0) {
        say("cannot learn how the command ended");
        return EXIT_SOFTWARE;
    }
    return status;
}

static void discard_command(struct launch *l) {
    free(l->script_argv);
    close(l->fds[0]);
    close(l->fds[1]);
}

static int cmd_run(const struct args *a, redlock_lock *lock) {
    /* The command is looked up first: one that cannot run (a typo: `redlock stauts NAME`) takes no lock. */
    struct launch l;
    int status = prepare_command(a, &l);
    if (status != 0) return status;
    double took = 0;
    int rc = acquire(a, lock, &took);
    if (rc != 0) discard_command(&l);
    if (rc == 1) {
        if (atomic_load(&pending_signal)) return 128 + atomic_load(&pending_signal);
        if (a->verbose) say("%s is held by another owner; gave up after %.3f s", display(a->name), took);
        return a->conflict_code;
    }
    if (rc != 0) return rc;
    if (a->verbose)
        say("acquired %s after %.3f s (TTL %.3g s, renewed every %.3g s)", display(a->name), took, a->ttl_s, a->ttl_s / 3);

    pid_t pid = 0;
    struct pids inherited = {NULL, 0, 0}; /* children redlock had before the command: not the job's */
    if (take_pending_signals(), atomic_load(&pending_signal)) { /* came while acquiring: do not start it */
        discard_command(&l);
        status = 128 + atomic_load(&pending_signal);
    } else if (read_children(&inherited), (status = start_command(&l, &pid)) == 0) {
        atomic_store(&child_pid, pid); /* signals are still blocked: the first wait below forwards what came */
        if (atomic_load(&lost_reason) && !atomic_load(&keep_running)) kill(pid, SIGTERM); /* lost before the spawn */
        int stopped_after = 0;
        status = supervise(pid, a, &inherited, &stopped_after);
        /* Stopped by a signal after the command itself had ended well: the job did not end on its own. */
        if (status == 0 && stopped_after) status = 128 + atomic_load(&stop_signal);
    }
    free(inherited.v);

    /* A release that could not tell (a connection or a quorum short of answers) keeps the token: try twice more. */
    int released = redlock_lock_release(lock);
    for (int i = 0; i < 2 && released != REDLOCK_OK && released != REDLOCK_ENOTOWNED && released != REDLOCK_ENOTHELD;
         ++i) {
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
        released = redlock_lock_release(lock);
    }
    if (released == REDLOCK_ENOTOWNED && !atomic_load(&lost_reason)) {
        atomic_store(&lost_reason, REDLOCK_ENOTOWNED);
        say("%sthe lock had expired or been taken before the command finished", atomic_load(&keep_running) ? "warning: " : "");
    } else if (released != REDLOCK_OK && released != REDLOCK_ENOTOWNED) {
        say("warning: could not release %s (%s: %s); it expires within its TTL (%g s)", display(a->name),
            redlock_strerror(released), detail(), a->ttl_s);
    } else if (released == REDLOCK_OK && a->verbose) {
        say("released %s", display(a->name));
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
        case 'n': a->nonblock = 1; break;
        case 'w':
            if (parse_seconds(optarg, "--wait", &a->wait_s)) return EXIT_USAGE;
            break;
        case 'E': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (strspn(optarg, "0123456789") != strlen(optarg) || end == optarg || *end || errno || v > 255)
                return usage_error("--conflict-exit-code: '%s' is not a number from 0 to 255", optarg);
            a->conflict_code = (int)v;
            break;
        }
        case 't':
            if (parse_seconds(optarg, "--ttl", &a->ttl_s)) return EXIT_USAGE;
            if (a->ttl_s < MIN_TTL_S)
                return usage_error("--ttl: at least %g s (it is renewed every TTL/3, over the network)", MIN_TTL_S);
            break;
        case OPT_SLEEP:
            if (parse_seconds(optarg, "--sleep", &a->sleep_s)) return EXIT_USAGE;
            if (a->sleep_s < 0.01) return usage_error("--sleep: at least 0.01 s (0 would poll Redis without pause)");
            break;
        case 'c': a->shell_command = optarg; break;
        case 'k': a->keep_running = 1; break;
        case OPT_TOKEN:
            if (a->token) return usage_error("--token given twice");
            a->token = optarg;
            break;
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
        } else if (optind < argc && argv[optind][0] == '-' && argv[optind][1] != '\0') {
            /* `redlock NAME -n -- cmd` would take the lock and then fail to run "-n" */
            return usage_error("'%s' after NAME: options go before NAME (a COMMAND starting with '-' goes after --)",
                               argv[optind]);
        }
        if (a->shell_command && optind < argc) return usage_error("give either -c SHELL-COMMAND or COMMAND, not both");
        if (!a->shell_command && optind >= argc) return usage_error("no COMMAND given to run under %s", display(a->name));
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
        a->url_from_env = env && *env;
        a->urls[a->n_urls++] = env && *env ? env : DEFAULT_URL;
    }
    if (a->nonblock) a->wait_s = 0;
    return -1;
}

/* fds 0 to 2 open, on /dev/null if closed: else the first socket opened would become stderr, and messages would be
 * written into the Redis connection. */
static void open_standard_fds(void) {
    for (int fd = 0; fd <= 2; ++fd)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int n = open("/dev/null", O_RDWR);
            if (n >= 0 && n != fd) close(n); /* not the lowest free fd: fd is open after all */
        }
}

/* The exit status, unless stdout could not be written (a full disk, a closed pipe): then 71. */
static int flushed(int status) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        say("cannot write the output: %s", strerror(errno));
        return EXIT_OSERR;
    }
    return status;
}

int main(int argc, char **argv) {
    open_standard_fds();
    /* A reader that went away (`redlock ... 2>&1 | head -1`) must not kill redlock: the lock would stay held with
     * nobody to renew or release it, and a lost lock would go unnoticed. Writes then fail with EPIPE. COMMAND gets
     * SIGPIPE's default back (start_command). */
    signal(SIGPIPE, SIG_IGN);
    struct args a = {.mode = MODE_RUN, .wait_s = -1, .ttl_s = 30, .sleep_s = 0.1,
                     .conflict_code = EXIT_CONFLICT_DEFAULT};
    int r = parse(argc, argv, &a);
    if (r >= 0) return flushed(r);
    atomic_store(&keep_running, a.keep_running);
    if ((a.mode == MODE_RUN || a.mode == MODE_WAIT) && install_signals() != 0) {
        say("cannot install signal handlers: %s", strerror(errno));
        return EXIT_OSERR;
    }
    /* The command's orphans (a pipeline member whose shell died, a background job) become redlock's children, so the
     * lock is released only once they have all exited. */
    if (a.mode == MODE_RUN && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        say("cannot watch the command's children: %s", strerror(errno));
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
    return flushed(r);
}
