/*
 * status -- see status.h. Plain relaxed atomics: nothing here is on the request path
 * except the connection count, touched once per accept and once per close, and the
 * Backoff value, loaded once per response (read-mostly: written only when it changes).
 */
#include "status.h"

#include <stdatomic.h>

/* The connection count (written per accept and close) and the Backoff value (read per
 * response) start separate cache lines, so accepts do not evict the poll path's line. */
static _Alignas(64) atomic_int g_conns;
static atomic_int g_redis_ok, g_loaded;
static atomic_llong g_last_update;
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
status_read(server_status *st)
{
    st->connections = atomic_load_explicit(&g_conns, memory_order_relaxed);
    st->redis_ok = atomic_load_explicit(&g_redis_ok, memory_order_relaxed);
    st->loaded = atomic_load_explicit(&g_loaded, memory_order_relaxed);
    st->last_update_ms = atomic_load_explicit(&g_last_update, memory_order_relaxed);
    st->backoff_seconds = status_backoff();
}
