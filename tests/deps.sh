#!/bin/sh
# Installs what building and testing hmacd needs on Debian 12 (as root, or through sudo);
# groff-base lints the man pages (tests/man.sh); python3-venv, -setuptools and -wheel let
# client_python_install.sh test `pip install ./client/python` (without them it skips); wrk is
# the closed loop of bench/http/run.sh, which tests/e2e/bench_http_smoke.sh runs briefly.
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake libtool pkg-config \
	libevent-dev libssl-dev libmsgpack-dev liblmdb-dev libcmocka-dev \
	libhiredis-dev redis-server redis-tools redis-sentinel \
	python3 valgrind clang libclang-rt-14-dev systemd groff-base \
	golang-go golang-github-labstack-echo-dev golang-github-vmihailenco-msgpack.v5-dev \
	golang-github-gin-gonic-gin-dev \
	python3-msgpack python3-flask python3-pytest python3-fastapi python3-httpx \
	python3-cryptography python3-mypy python3-django python3-uvicorn python3-gunicorn \
	python3-prometheus-client python3-yaml python3-venv python3-setuptools python3-wheel \
	wrk >/dev/null
# Node.js: the machine image ships node 20 with npm; Debian's packages only where it is missing.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
	$SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
