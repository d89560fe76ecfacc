/*
 * test_castore -- the content-addressed attachment store (lib/castore.c): commit under
 * the hash, deduplication, verified commits, media types (validated, first one kept,
 * removed with the file), removal only of files older than a limit, and the thread
 * safety of commit against removal.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "herald/castore.h"

static char dir[256];

static herald_castore *
open_store(void)
{
    char err[256];
    snprintf(dir, sizeof(dir), "/tmp/herald-castore-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    herald_castore *s = herald_castore_open(dir, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    return s;
}

static void
put(herald_castore *s, const char *data, char hash[HERALD_CASTORE_HASH_LEN + 1])
{
    herald_castore_writer *w = herald_castore_begin(s);
    cr_assert_not_null(w);
    cr_assert_eq(herald_castore_write(w, data, strlen(data)), 0);
    cr_assert_eq(herald_castore_commit(w, hash), 0);
}

static void
cleanup(herald_castore *s)
{
    char cmd[300];
    herald_castore_close(s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(castore, commit_dedup_and_verified)
{
    herald_castore *s = open_store();
    char h1[HERALD_CASTORE_HASH_LEN + 1], h2[HERALD_CASTORE_HASH_LEN + 1];
    put(s, "abc", h1);
    cr_assert_str_eq(h1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    put(s, "abc", h2);
    cr_assert_str_eq(h1, h2);
    int64_t size = 0;
    int fd = herald_castore_open_file(s, h1, &size);
    cr_assert_geq(fd, 0);
    cr_assert_eq(size, 3);
    close(fd);
    herald_castore_writer *w = herald_castore_begin(s);
    cr_assert_eq(herald_castore_write(w, "abd", 3), 0);
    cr_assert_eq(herald_castore_commit_expect(w, h1), -1);
    cleanup(s);
}

Test(castore, media_types)
{
    cr_assert(herald_castore_valid_type("application/json", 16));
    cr_assert(herald_castore_valid_type("image/svg+xml", 13));
    cr_assert_not(herald_castore_valid_type("text", 4));
    cr_assert_not(herald_castore_valid_type("/plain", 6));
    cr_assert_not(herald_castore_valid_type("text/", 5));
    cr_assert_not(herald_castore_valid_type("text/pl ain", 11));
    cr_assert_not(herald_castore_valid_type("text/plain\r\nX: y", 16));
    cr_assert_not(herald_castore_valid_type("a/b/c", 5));
    herald_castore *s = open_store();
    char h[HERALD_CASTORE_HASH_LEN + 1], t[HERALD_CASTORE_TYPE_MAX + 1];
    put(s, "typed", h);
    cr_assert_eq(herald_castore_get_type(s, h, t), -1);
    cr_assert_eq(herald_castore_set_type(s, h, "bad type"), -1);
    cr_assert_eq(herald_castore_set_type(s, h, "application/x-first"), 0);
    cr_assert_eq(herald_castore_set_type(s, h, "application/x-second"), 0);
    cr_assert_eq(herald_castore_get_type(s, h, t), 0);
    cr_assert_str_eq(t, "application/x-first");
    cr_assert_eq(herald_castore_remove(s, h), 0);
    cr_assert_eq(herald_castore_get_type(s, h, t), -1);
    int64_t size;
    cr_assert_eq(herald_castore_open_file(s, h, &size), -1);
    cleanup(s);
}

Test(castore, remove_older)
{
    herald_castore *s = open_store();
    char h[HERALD_CASTORE_HASH_LEN + 1];
    put(s, "old", h);
    int64_t now = (int64_t)time(NULL) * 1000;
    cr_assert_eq(herald_castore_remove_older(s, h, now - 60000), 1); /* newer: kept */
    int64_t size;
    int fd = herald_castore_open_file(s, h, &size);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(herald_castore_remove_older(s, h, now + 60000), 0);
    cr_assert_eq(herald_castore_open_file(s, h, &size), -1);
    cr_assert_eq(herald_castore_remove_older(s, h, now + 60000), -1);
    cleanup(s);
}

/* A commit of a present content (which refreshes it) racing removals of files older
 * than "now": whenever a commit returned, its file exists unless a removal ran after
 * it, which a check right after the commit (before any removal may see the new mtime
 * as old) would catch. Both sides run flat out on two threads. */
static herald_castore *race_store;
static volatile int race_stop;
static char race_hash[HERALD_CASTORE_HASH_LEN + 1];

static void *
remover(void *arg)
{
    (void)arg;
    while (!race_stop) {
        /* only files whose mtime is over 1 s old: a fresh commit is never removed */
        herald_castore_remove_older(race_store, race_hash, (int64_t)time(NULL) * 1000 - 1000);
    }
    return NULL;
}

Test(castore, commit_vs_remove_threads)
{
    race_store = open_store();
    put(race_store, "race", race_hash);
    char path[600];
    snprintf(path, sizeof(path), "%s/%.2s/%s", dir, race_hash, race_hash);
    struct timespec old[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    pthread_t t;
    race_stop = 0;
    cr_assert_eq(pthread_create(&t, NULL, remover, NULL), 0);
    for (int i = 0; i < 300; i++) {
        char h[HERALD_CASTORE_HASH_LEN + 1];
        put(race_store, "race", h);
        struct stat st;
        cr_assert_eq(stat(path, &st), 0, "round %d: a committed file is missing", i);
        utimensat(AT_FDCWD, path, old, 0); /* old again: the remover may take it now */
    }
    race_stop = 1;
    pthread_join(t, NULL);
    cleanup(race_store);
}
