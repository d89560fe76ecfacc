/*
 * status -- see status.h. Plain relaxed atomics: nothing here is on the request path
 * except the connection count, touched once per accept and once per close, and the
 * Backoff value, loaded once per response (read-mostly: written only when it changes).
 */
#include "status.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The connection count (written per accept and close) and the Backoff value (read per
 * response) start separate cache lines, so accepts do not evict the poll path's line. */
static _Alignas(64) atomic_int g_conns;
static atomic_int g_redis_ok, g_loaded;
static atomic_llong g_last_update;
static atomic_llong g_resync_ms = -1;
static pthread_mutex_t g_invalid_lock = PTHREAD_MUTEX_INITIALIZER;
static char **g_invalid; /* "bid/cid", unordered */
static size_t g_ninvalid, g_invalid_cap;
_Alignas(64) atomic_int status_backoff_seconds_;

int
status_conn_open(void)
{
    return atomic_fetch_add_explicit(&g_conns, 1, memory_order_relaxed);
}

void
status_conn_close(void)
{
    atomic_fetch_sub_explicit(&g_conns, 1, memory_order_relaxed);
}

void
status_set_redis_ok(int ok)
{
    atomic_store(&g_redis_ok, ok);
}

void
status_set_loaded(void)
{
    atomic_store(&g_loaded, 1);
}

void
status_set_last_update(long long ms)
{
    atomic_store(&g_last_update, ms);
}

void
status_set_backoff(int seconds)
{
    atomic_store_explicit(&status_backoff_seconds_, seconds > 0 ? seconds : 0,
                          memory_order_relaxed);
}

void
status_set_resync_ms(long long ms)
{
    atomic_store(&g_resync_ms, ms);
}

void
status_set_invalid(const char *bid, const char *cid, int bad)
{
    herald_buf name = HERALD_BUF_INIT;
    herald_buf_printf(&name, "%s/%s", bid, cid);
    herald_buf_cstr(&name);
    pthread_mutex_lock(&g_invalid_lock);
    size_t i = 0;
    while (i < g_ninvalid && strcmp(g_invalid[i], name.data))
        i++;
    if (bad && i == g_ninvalid) {
        if (g_ninvalid == g_invalid_cap) {
            g_invalid_cap = g_invalid_cap ? 2 * g_invalid_cap : 8;
            g_invalid = herald_mem_realloc(g_invalid, g_invalid_cap * sizeof(char *));
        }
        g_invalid[g_ninvalid++] = herald_buf_steal(&name, NULL);
    } else if (!bad && i < g_ninvalid) {
        free(g_invalid[i]);
        g_invalid[i] = g_invalid[--g_ninvalid];
        if (g_ninvalid == 0) {
            free(g_invalid);
            g_invalid = NULL;
            g_invalid_cap = 0;
        }
    }
    pthread_mutex_unlock(&g_invalid_lock);
    herald_buf_free(&name);
}

size_t
status_invalid_list(herald_buf *out)
{
    pthread_mutex_lock(&g_invalid_lock);
    size_t n = g_ninvalid;
    for (size_t i = 0; i < n; i++) {
        if (i)
            herald_buf_putc(out, ',');
        herald_buf_putc(out, '"');
        herald_buf_puts(out, g_invalid[i]);
        herald_buf_putc(out, '"');
    }
    pthread_mutex_unlock(&g_invalid_lock);
    return n;
}

void
status_read(server_status *st)
{
    st->connections = atomic_load_explicit(&g_conns, memory_order_relaxed);
    st->redis_ok = atomic_load_explicit(&g_redis_ok, memory_order_relaxed);
    st->loaded = atomic_load_explicit(&g_loaded, memory_order_relaxed);
    st->last_update_ms = atomic_load_explicit(&g_last_update, memory_order_relaxed);
    st->backoff_seconds = status_backoff();
    st->resync_ms = atomic_load_explicit(&g_resync_ms, memory_order_relaxed);
    pthread_mutex_lock(&g_invalid_lock);
    st->invalid = (int)g_ninvalid;
    pthread_mutex_unlock(&g_invalid_lock);
}
