#!/usr/bin/env bash
# Installs what building and testing nx-unikernel needs on a Debian or Ubuntu
# machine: compilers for the test fixtures (gcc, gcc-multilib, musl-tools,
# clang and lld for foreign-architecture ELF files, Go), QEMU for boots,
# pax-utils for the lddtree comparison, then the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(gcc g++ gcc-multilib musl-tools clang lld golang-go binutils file
  qemu-system-x86 qemu-utils pax-utils python3-pyelftools curl ca-certificates)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done

if ((${#missing[@]} > 0)); then
  if ! command -v apt-get >/dev/null; then
    echo "setup: missing packages ${missing[*]}, and apt-get is not available; install them with your package manager" >&2
    exit 1
  fi
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund
