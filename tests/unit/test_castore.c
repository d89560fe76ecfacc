/*
 * test_castore -- the content-addressed attachment store (lib/castore.c): commit under
 * the hash, deduplication, verified commits, media types (validated, first one kept,
 * removed with the file), removal only of files older than a limit, and the thread
 * safety of commit against removal; bundle names, their atomic replacement and removal.
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

/* Bundles: only [A-Za-z0-9][A-Za-z0-9_-]*.zip names map; a temporary file becomes the
 * bundle whole (renamed), replaces the previous one, and is removed. */
Test(castore, bundles)
{
    herald_castore *s = open_store();
    char name[HERALD_CASTORE_BUNDLE_NAME_MAX + 1], tmp[4400], path[4400];
    const char *ok[] = {"/attachments/bundles/main--regions.zip", "/attachments/bundles/a.zip",
                        "/attachments/bundles/b_1--c-2.zip"};
    const char *bad[] = {"/attachments/bundles/.zip",         "/attachments/bundles/../x.zip",
                         "/attachments/bundles/a/b.zip",      "/attachments/bundles/-a.zip",
                         "/attachments/bundles/.build-1.zip", "/attachments/bundles/a.zip.zip",
                         "/attachments/bundles/a.ZIP",        "/attachments/bundles/a%2f.zip",
                         "/attachments/bundle/a.zip",         "/attachments/bundles/"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
        cr_assert_eq(herald_castore_url_bundle(ok[i], strlen(ok[i]), "/attachments/", name), 0,
                     "%s", ok[i]);
        cr_assert_str_eq(name, ok[i] + strlen("/attachments/bundles/"));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        cr_assert_neq(herald_castore_url_bundle(bad[i], strlen(bad[i]), "/attachments/", name), 0,
                      "%s", bad[i]);
    cr_assert_neq(herald_castore_bundle_path(s, "../x.zip", path, sizeof(path)), 0);
    for (int round = 0; round < 2; round++) {
        cr_assert_eq(herald_castore_bundle_tmp(s, tmp, sizeof(tmp)), 0);
        cr_assert(strstr(tmp, "/bundles/.build-") != NULL, "%s", tmp);
        FILE *f = fopen(tmp, "w");
        cr_assert_not_null(f);
        fputs(round ? "second" : "first", f);
        fclose(f);
        cr_assert_eq(herald_castore_bundle_publish(s, tmp, "b--c.zip"), 0);
        cr_assert_eq(access(tmp, F_OK), -1, "the temporary file is gone");
        cr_assert_eq(herald_castore_bundle_path(s, "b--c.zip", path, sizeof(path)), 0);
        char buf[16] = {0};
        f = fopen(path, "r");
        cr_assert_not_null(f);
        cr_assert_neq(fgets(buf, sizeof(buf), f), NULL);
        fclose(f);
        cr_assert_str_eq(buf, round ? "second" : "first");
    }
    cr_assert_eq(herald_castore_bundle_remove(s, "b--c.zip"), 0);
    cr_assert_eq(access(path, F_OK), -1);
    cr_assert_eq(herald_castore_bundle_remove(s, "b--c.zip"), 0, "absent: not an error");
    cleanup(s);
}

/* A pinned file (an upload between its commit and its record write) is never removed
 * by remove_older, however old; unpinned, it is. Pins are counted. */
Test(castore, pins)
{
    herald_castore *s = open_store();
    char hash[HERALD_CASTORE_HASH_LEN + 1], h2[HERALD_CASTORE_HASH_LEN + 1];
    for (int i = 0; i < 2; i++) {
        herald_castore_writer *w = herald_castore_begin(s);
        cr_assert_not_null(w);
        cr_assert_eq(herald_castore_write(w, "pinned", 6), 0);
        cr_assert_eq(herald_castore_commit_pin(w, i ? h2 : hash), 0);
    }
    cr_assert_str_eq(hash, h2);
    int64_t future = (int64_t)time(NULL) * 1000 + 3600 * 1000;
    cr_assert_eq(herald_castore_remove_older(s, hash, future), 1, "pinned twice: kept");
    herald_castore_unpin(s, hash);
    cr_assert_eq(herald_castore_remove_older(s, hash, future), 1, "pinned once: kept");
    herald_castore_unpin(s, hash);
    cr_assert_eq(herald_castore_remove_older(s, hash, future), 0, "unpinned: removed");
    int64_t size;
    cr_assert_eq(herald_castore_open_file(s, hash, &size), -1);
    cleanup(s);
}
