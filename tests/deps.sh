#!/bin/sh
# Installs what building and testing hmacd needs on Debian 12 (as root, or through sudo).
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake libtool pkg-config \
	libevent-dev libssl-dev libmsgpack-dev liblmdb-dev libcmocka-dev \
	python3 valgrind >/dev/null
