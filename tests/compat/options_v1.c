/* A program built against version 1 of redlock_lock_options and redlock_client_options, as every program built
 * before 0.2 is: it binds to their inits @REDLOCK_0 and owns structs that end at blocking_timeout_ms and db. The library must not write
 * past it (the canary) and must take it as it is. Usage: options_v1 REDIS_URL */
#include <redlock/redlock.h>
#include <stdio.h>
#include <string.h>

struct lock_options_v1 {  /* redlock_lock_options as the version-1 header declared it */
    uint32_t version;
    int32_t blocking;
    int64_t timeout_ms;
    int64_t sleep_ms;
    int64_t blocking_timeout_ms;
};

struct client_options_v1 {  /* redlock_client_options as the version-1 header declared it */
    uint32_t version;
    uint32_t max_connections;
    int64_t connect_timeout_ms;
    int64_t command_timeout_ms;
    int64_t keepalive_s;
    const char *username;
    const char *password;
    int32_t db;
};

/* What the linker recorded for old programs: the version-1 implementations. */
void options_init_v1(struct lock_options_v1 *opts);
__asm__(".symver options_init_v1, redlock_lock_options_init@REDLOCK_0");
void client_options_init_v1(struct client_options_v1 *opts);
__asm__(".symver client_options_init_v1, redlock_client_options_init@REDLOCK_0");

int main(int argc, char **argv) {
    struct {
        struct lock_options_v1 o;
        unsigned char canary[64];
    } mem;
    redlock_client *c;
    redlock_lock *l;
    memset(&mem, 0xAA, sizeof mem);
    options_init_v1(&mem.o);
    for (size_t i = 0; i < sizeof mem.canary; ++i)
        if (mem.canary[i] != 0xAA) {
            fprintf(stderr, "the version-1 init wrote past the version-1 struct (byte %zu)\n", i);
            return 1;
        }
    if (mem.o.version != 1 || mem.o.blocking != 1 || mem.o.sleep_ms != 100 || mem.o.blocking_timeout_ms != -1) {
        fprintf(stderr, "version-1 defaults wrong: version %u\n", (unsigned)mem.o.version);
        return 1;
    }
    struct {
        struct client_options_v1 o;
        unsigned char canary[96];
    } cmem;
    memset(&cmem, 0xAA, sizeof cmem);
    client_options_init_v1(&cmem.o);
    for (size_t i = 0; i < sizeof cmem.canary; ++i)
        if (cmem.canary[i] != 0xAA) {
            fprintf(stderr, "the version-1 client init wrote past the version-1 struct (byte %zu)\n", i);
            return 1;
        }
    if (cmem.o.version != 1 || cmem.o.keepalive_s != -1 || cmem.o.db != -1) {
        fprintf(stderr, "version-1 client defaults wrong: version %u\n", (unsigned)cmem.o.version);
        return 1;
    }
    cmem.o.command_timeout_ms = 2000;
    mem.o.timeout_ms = 10000;
    if (argc != 2 || redlock_client_new(&c, argv[1], (const redlock_client_options *)&cmem.o) != REDLOCK_OK ||
        redlock_lock_new(&l, c, "compat:v1", (const redlock_lock_options *)&mem.o, 0) != REDLOCK_OK ||
        redlock_lock_acquire(l) != REDLOCK_OK || redlock_lock_release(l) != REDLOCK_OK) {
        fprintf(stderr, "version-1 options refused or not working: %s\n", redlock_last_error());
        return 1;
    }
    redlock_lock_free(l);
    redlock_client_free(c);
    puts("ok: a version-1 program works unchanged");
    return 0;
}
