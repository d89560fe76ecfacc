/*
 * listing_fixture -- the record set Kinto's plural GET is tested on (lib/listing.c), shared
 * by the unit test (tests/unit/test_listing.c) and the fuzz target (fuzz/check_listing.c)
 * so that both exercise the same awkward values: mixed types under one field, nested and
 * dotted keys, empty and missing titles, equal last_modified.
 */
#ifndef HERALD_LISTING_FIXTURE_H
#define HERALD_LISTING_FIXTURE_H

/* Records r1 .. r6, comma-separated, without the enclosing brackets. */
#define LISTING_FIXTURE_R1_R6                                                                      \
    "{\"id\":\"r1\",\"last_modified\":10,\"title\":\"Hello World\",\"n\":1,\"flag\":true,"         \
    "\"tags\":[\"a\",\"b\"],\"details\":{\"bug\":123,\"who\":\"alice\"}},"                         \
    "{\"id\":\"r2\",\"last_modified\":20,\"title\":\"hello there\",\"n\":2.5,\"flag\":false,"      \
    "\"tags\":[\"b\",\"c\"],\"details\":{\"bug\":456}},"                                           \
    "{\"id\":\"r3\",\"last_modified\":30,\"title\":\"Other\",\"n\":\"2\",\"flag\":null,"           \
    "\"tags\":[],\"details\":\"flat\"},"                                                           \
    "{\"id\":\"r4\",\"last_modified\":40,\"n\":null,\"tags\":[\"a\",{\"x\":1}],\"details.bug\":7}" \
    ","                                                                                            \
    "{\"id\":\"r5\",\"last_modified\":50,\"title\":\"a*b\",\"n\":[1,2],\"tags\":\"a\"},"           \
    "{\"id\":\"r6\",\"last_modified\":60,\"title\":\"\",\"n\":{\"k\":1},\"flag\":1}"

#endif
