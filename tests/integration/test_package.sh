#!/usr/bin/env bash
# The Debian package, as an operator gets it: built with CPack in a fresh build
# directory (Release, Debian's hardening flags from dpkg-buildflags), checked by lintian
# (any E: fails), installed with `apt-get install ./herald_*.deb`, then: files, conffiles,
# system users, units (`systemd-analyze verify`, which works on unit files without systemd
# as PID 1), the installed programs run as their users, and `apt-get purge` at the end.
#
# Installs packages and creates system users on this machine: it needs root, and is
# meant for a throwaway machine (CI). A herald package already installed is purged first.
source "$(dirname "$0")/../support/harness.sh"

if [ "$(id -u)" != 0 ]; then
    h_log "FAIL - test_package.sh installs a package: run it as root (on a throwaway machine)"
    exit 1
fi
for cmd in cpack lintian dpkg-buildflags dpkg-shlibdeps apt-get systemd-analyze; do
    command -v "$cmd" >/dev/null || { h_log "FAIL - $cmd missing (scripts/install-deps.sh)"; exit 1; }
done
export DEBIAN_FRONTEND=noninteractive
USERS=(herald-publisher herald-signer herald-server)
UNITS=(herald-publisher.service herald-signer.service herald-server.service)

# The package keeps its system users on purge (as Debian does); this test removes them
# so that every run sees them created by postinst.
remove_leftovers() {
    if dpkg-query -W -f='${Status}' herald 2>/dev/null | grep -q 'ok installed\|config-files'; then
        h_log "note: purging the herald package found installed"
        apt-get purge -y -qq herald >/dev/null 2>&1 || true
    fi
    local u
    for u in "${USERS[@]}"; do
        if getent passwd "$u" >/dev/null; then deluser --system --quiet "$u" >/dev/null 2>&1 || true; fi
        if getent group "$u" >/dev/null; then delgroup --system --quiet "$u" >/dev/null 2>&1 || true; fi
    done
}
finish_trap() {
    remove_leftovers
    h_cleanup
}
trap finish_trap EXIT
remove_leftovers

# --- build ---------------------------------------------------------------------------
B=$H_TMP/build
t0=$SECONDS
(
    export DEB_BUILD_MAINT_OPTIONS=hardening=+all
    CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
        LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" \
        cmake -S "$H_SRC" -B "$B" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >"$H_TMP/cmake.log" 2>&1
    # Only what the package holds: not the unit tests, benchmarks or fuzzers.
    cmake --build "$B" -j2 --target herald-publisher herald-signer herald-server \
        herald_changelog >>"$H_TMP/cmake.log" 2>&1
    cd "$B" && cpack -G DEB >"$H_TMP/cpack.log" 2>&1
) || { h_log "FAIL - package build (logs: cmake.log, cpack.log)"; tail -20 "$H_TMP"/c*.log >&2; H_FAILED=1; exit 1; }
debs=("$B"/herald_*.deb)
DEB=${debs[0]}
version=$(sed -n 's/^project(herald VERSION \([0-9.]*\).*/\1/p' "$H_SRC/CMakeLists.txt")
h_check "cpack built herald_${version}_amd64.deb" h_eq "${DEB##*/}" "herald_${version}_$(dpkg --print-architecture).deb"
h_log "package: ${DEB##*/}, $(stat -c %s "$DEB") bytes, installed size $(dpkg-deb -f "$DEB" Installed-Size) KiB (built in $((SECONDS - t0)) s)"

depends=$(dpkg-deb -f "$DEB" Depends)
h_log "Depends: $depends"
h_check "Depends computed by dpkg-shlibdeps (libc6, libhiredis, libsodium...)" \
    bash -c "echo '$depends' | grep -q 'libc6 (>=' && echo '$depends' | grep -q libhiredis && echo '$depends' | grep -q libsodium"
h_check "Depends: adduser (postinst creates the users)" bash -c "echo '$depends' | grep -qw adduser"
h_check "conffiles: the three example settings" h_eq \
    "$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles | sort | tr '\n' ' ')" \
    "/etc/herald/publisher.conf /etc/herald/server.conf /etc/herald/signer.conf "

# --- lintian -------------------------------------------------------------------------
lint_rc=0
lintian --tag-display-limit 0 "$DEB" >"$H_TMP/lintian.txt" 2>&1 || lint_rc=$?
grep -v -e 'root privileges' "$H_TMP/lintian.txt" >&2 || true
h_log "lintian: $(grep -c '^E:' "$H_TMP/lintian.txt" || true) error(s), $(grep -c '^W:' "$H_TMP/lintian.txt" || true) warning(s)"
h_check "lintian reports no error" bash -c "! grep -q '^E:' '$H_TMP/lintian.txt'"
h_check "  and exits 0 (it fails on errors, and when it cannot check)" h_eq "$lint_rc" 0

# --- install -------------------------------------------------------------------------
t0=$SECONDS
apt-get install -y -qq "$DEB" >"$H_TMP/apt.log" 2>&1 || { tail -20 "$H_TMP/apt.log" >&2; false; }
h_log "apt-get install took $((SECONDS - t0)) s"
h_check "dpkg knows herald $version as installed" h_eq "$(dpkg-query -W -f='${Status} ${Version}' herald)" "install ok installed $version"
for f in /usr/bin/herald-publisher /usr/bin/herald-signer /usr/bin/herald-server; do
    h_check "$f is an executable" test -x "$f"
done
for f in /etc/herald/publisher.conf /etc/herald/signer.conf /etc/herald/server.conf \
    /usr/share/doc/herald/copyright /usr/share/doc/herald/changelog.gz \
    /usr/share/doc/herald/deploy.md /usr/share/doc/herald/examples/varnish.vcl; do
    h_check "$f installed" test -s "$f"
done
h_check "no secret shipped: /etc/herald holds only the example settings" h_eq \
    "$(ls /etc/herald | tr '\n' ' ')" "publisher.conf server.conf signer.conf "
for u in "${USERS[@]}"; do
    h_check "system user $u: no login, no home" h_eq \
        "$(getent passwd "$u" | cut -d: -f6,7)" "/nonexistent:/usr/sbin/nologin"
    h_check "  $u is a system user (uid below 1000) with its own group" \
        bash -c "[ \$(id -u $u) -lt 1000 ] && [ \"\$(id -gn $u)\" = $u ]"
    h_check "  $u has no home directory created" test ! -e /nonexistent
done
for s in "${UNITS[@]}"; do
    h_check "unit $s installed" test -f "/lib/systemd/system/$s"
    h_check "  $s runs as ${s%.service} with the hardening asked for" bash -c "
        f=/lib/systemd/system/$s
        for want in 'User=${s%.service}' NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
            PrivateTmp=yes PrivateDevices=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
            'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' CapabilityBoundingSet= \
            SystemCallFilter=@system-service; do
            grep -qxF \"\$want\" \$f || { echo \"missing \$want\" >&2; exit 1; }
        done"
    h_check "  $s is not enabled by the package" \
        test ! -e "/etc/systemd/system/multi-user.target.wants/$s"
done
h_check "the read server may keep 50000 connections open (LimitNOFILE)" \
    bash -c "[ \$(sed -n 's/^LimitNOFILE=//p' /lib/systemd/system/herald-server.service) -ge 50000 ]"

# systemd-analyze verify exits 0 on a unit it merely warns about: any output is a defect.
# The control shows this systemd does check unit files here (PID 1 or not).
(cd /lib/systemd/system && systemd-analyze verify "${UNITS[@]}") >"$H_TMP/verify.txt" 2>&1 || echo "exit status $?" >>"$H_TMP/verify.txt"
cat "$H_TMP/verify.txt" >&2
h_check "systemd-analyze verify: the three units, no complaint" test ! -s "$H_TMP/verify.txt"
mkdir -p "$H_TMP/bad" && chmod 755 "$H_TMP"
printf '[Service]\nExecStart=/usr/bin/herald-server\nProtectSystem=bogus\n' >"$H_TMP/bad/herald-bad.service"
h_check "  (control: verify does complain about a bad unit here)" \
    bash -c "systemd-analyze verify '$H_TMP/bad/herald-bad.service' 2>&1 | grep -q bogus"
for s in "${UNITS[@]}"; do
    h_log "  $(systemd-analyze security --offline=true "/lib/systemd/system/$s" 2>&1 | tail -1)"
done

# --- the installed programs ----------------------------------------------------------
h_check "installed herald-server --help lists its settings" \
    bash -c "/usr/bin/herald-server --help | grep -q server_listen"
h_check "installed herald-publisher --help" bash -c "/usr/bin/herald-publisher --help | grep -q publisher_listen"
h_check "installed herald-signer --help" bash -c "/usr/bin/herald-signer --help | grep -q signer_keys"

# The read server as its unit runs it (its user, the shipped settings file), given a
# public key and a port: it must read the file and start listening.
H_PUBKEY=$(/usr/bin/herald-signer keygen --out "$H_TMP/signing.key")
port=$(h_free_port)
setpriv --reuid=herald-server --regid=herald-server --init-groups -- /usr/bin/herald-server --config /etc/herald/server.conf \
    --public-key "$H_PUBKEY" --listen "127.0.0.1:$port" 2>>"$H_TMP/server.log" &
srv=$!
H_PIDS+=("$srv")
h_check "installed herald-server runs as herald-server with /etc/herald/server.conf" \
    h_wait_port "$port" 20 "$srv" "$H_TMP/server.log"
h_check "  and answers /v1/__lbheartbeat__" \
    h_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/__lbheartbeat__")" 200
h_check "  as that user" h_eq "$(ps -o user= -p "$srv")" herald-server
kill -TERM "$srv" && wait "$srv" || true

# The admin page's files are found from the installed program (../share/herald/admin),
# without Redis (the page is static).
h_check "/usr/share/herald/admin/index.html installed" test -s /usr/share/herald/admin/index.html
port=$(h_free_port)
/usr/bin/herald-publisher --listen "127.0.0.1:$port" --redis "redis://127.0.0.1:$(h_free_port)/0" \
    2>>"$H_TMP/publisher.log" &
pub=$!
H_PIDS+=("$pub")
h_wait_port "$port" 20 "$pub" "$H_TMP/publisher.log"
h_check "installed herald-publisher serves /v1/admin/ from there" \
    bash -c "curl -s 'http://127.0.0.1:$port/v1/admin/' | grep -q 'type=\"module\"'"
kill -TERM "$pub" && wait "$pub" || true

# --- purge ---------------------------------------------------------------------------
apt-get purge -y -qq herald >"$H_TMP/apt-purge.log" 2>&1 || { tail -20 "$H_TMP/apt-purge.log" >&2; false; }
h_check "apt-get purge removes the package" bash -c "! dpkg-query -W -f='\${Status}' herald 2>/dev/null | grep -q installed"
h_check "  and its files (programs, units, /etc/herald)" bash -c \
    "[ ! -e /usr/bin/herald-server ] && [ ! -e /lib/systemd/system/herald-server.service ] && [ ! -e /etc/herald ] && [ ! -e /usr/share/herald ]"

h_finish
