/*
 * route_id -- the read server's endpoints, as one list: the router (routes.c) names
 * each request's route with it, the handlers receive it, and metrics.c counts and
 * labels requests by it. A header of data only, below all three, so none of them has
 * to include another's header for the vocabulary they share.
 *
 * X(id, label): 'label' is the value of the route label in /metrics.
 */
#ifndef HERALD_SERVER_ROUTE_ID_H
#define HERALD_SERVER_ROUTE_ID_H

#define SERVER_ROUTES(X)                                                                           \
    X(RT_MONITOR, "monitor_changeset")                                                             \
    X(RT_MONITOR_RECORDS, "monitor_records")                                                       \
    X(RT_CHANGESET, "changeset")                                                                   \
    X(RT_ROOT, "root")                                                                             \
    X(RT_BUCKET, "bucket")                                                                         \
    X(RT_COLLECTION, "collection")                                                                 \
    X(RT_RECORDS, "records")                                                                       \
    X(RT_RECORD, "record")                                                                         \
    X(RT_HEARTBEAT, "heartbeat")                                                                   \
    X(RT_LBHEARTBEAT, "lbheartbeat")                                                               \
    X(RT_VERSION, "version")                                                                       \
    X(RT_METRICS, "metrics")                                                                       \
    X(RT_ATTACHMENT, "attachment")                                                                 \
    X(RT_UNKNOWN, "unknown") /* no such endpoint (404) */                                          \
    X(RT_INVALID, "invalid") /* the request could not be parsed, or timed out */

enum route_id {
#define ROUTE_ENUM(id, label) id,
    SERVER_ROUTES(ROUTE_ENUM)
#undef ROUTE_ENUM
        RT_COUNT,
};

#endif
