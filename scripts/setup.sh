#!/bin/sh
# Installs the Debian 12 packages agentbudget builds with. Idempotent: runs
# apt-get only when something is missing. Needs root (or sudo).
set -eu
PACKAGES="cmake g++ make pkg-config libboost-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
libtomlplusplus-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev libhowardhinnant-date-dev tzdata
libsqlite3-dev libcpp-httplib-dev libsystemd-dev libcereal-dev libhiredis-dev sqlite3 python3 golang-go cargo rustc
clang libclang-rt-14-dev clang-format clang-tidy cppcheck"
# The installation tests: .deb dependencies (dpkg-shlibdeps), man -l, and the
# maintainer scripts run into a throwaway root (systemd-sysusers, deb-systemd-helper).
PACKAGES="$PACKAGES dpkg-dev man-db systemd init-system-helpers"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
