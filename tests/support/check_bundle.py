#!/usr/bin/env python3
"""check_bundle.py ZIP CHANGESET: checks an attachment bundle against the changeset a
read server serves (tests/integration/test_attachments_bundle.sh). Remote Settings'
layout (cronjobs build_bundles.py): for each record with an attachment, "<id>.meta.json"
(the record) and "<id>" (the file), nothing else; each file's SHA-256 and size are the
signed record's. Prints the record ids bundled, or the first problem and exits 1."""
import hashlib
import json
import sys
import zipfile

with open(sys.argv[2]) as f:
    changes = json.load(f)["changes"]
want = {r["id"]: r for r in changes if r.get("attachment")}
with zipfile.ZipFile(sys.argv[1]) as z:
    if z.testzip() is not None:
        sys.exit("a member of the zip is corrupt")
    names = sorted(z.namelist())
    expected = sorted([i for i in want] + [i + ".meta.json" for i in want])
    if names != expected:
        sys.exit("members %r, expected %r" % (names, expected))
    for rid, rec in want.items():
        data = z.read(rid)
        if hashlib.sha256(data).hexdigest() != rec["attachment"]["hash"]:
            sys.exit("%s: SHA-256 is not the record's hash" % rid)
        if len(data) != rec["attachment"]["size"]:
            sys.exit("%s: size is not the record's" % rid)
        if json.loads(z.read(rid + ".meta.json")) != rec:
            sys.exit("%s.meta.json is not the served record" % rid)
print(" ".join(sorted(want)))
