#!/usr/bin/env bash
# Installs the system packages the test suite drives for real (tshark; Java for
# DynamoDB Local; clang with its sanitizer and libFuzzer runtimes for the native
# engine) when running as root; otherwise says exactly what to install.
set -euo pipefail

missing=()
command -v tshark >/dev/null 2>&1 || missing+=(tshark)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v clang >/dev/null 2>&1 || missing+=(clang)
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || missing+=(libclang-rt-14-dev)
# Peers the capture engine is checked against (collectors, a reference exporter,
# tcpdump), and the tools its live tests use.
command -v tcpdump >/dev/null 2>&1 || missing+=(tcpdump)
command -v nfcapd >/dev/null 2>&1 || missing+=(nfdump)
command -v softflowd >/dev/null 2>&1 || missing+=(softflowd)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v make >/dev/null 2>&1 || missing+=(make)
# The agent's uplink is tested against a real external broker too.
command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
# The mTLS tests make their own throwaway CA and certificates.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# The web console is tested in Debian's Chromium, driven by playwright-core.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test setup: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; the answer does not matter for reading files.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "test setup: missing ${missing[*]}. Install them first:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
