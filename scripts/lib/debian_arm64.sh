# Debian arm64 packages for cross builds and qemu tests, fetched with a private apt
# configuration: the system's sources, lists and dpkg state are never touched, and no
# root is needed. Sourced by scripts/build_wheels.sh and scripts/test_wheels.sh.
#
#   debian_arm64_extract WORK SUITE DEST [--deps] PKG...
#     downloads PKG... (with --deps: and everything they depend on, recursively) for
#     arm64 from Debian SUITE (bookworm, trixie, ...) and unpacks them into DEST.

_debian_arm64_apt() {  # _debian_arm64_apt WORK SUITE apt-get|apt-cache ARGS...
  local apt=$1/apt-$2 suite=$2 tool=$3
  shift 3
  if [ ! -f "$apt/sources.list" ]; then
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
    echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
      > "$apt/sources.list.new"
    local try
    for try in 1 2 3; do
      if apt-get -o Dir::Etc::SourceList="$apt/sources.list.new" -o Dir::Etc::SourceParts=/dev/null \
          -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o Debug::NoLocking=1 \
          -o APT::Architecture=arm64 -o APT::Architectures::=arm64 update -qq \
          && ls "$apt"/lists/*_Packages* >/dev/null 2>&1; then
        mv "$apt/sources.list.new" "$apt/sources.list"
        break
      fi
      echo "debian_arm64: apt-get update for $suite failed (try $try of 3)" >&2
      sleep $((try * 5))
    done
    [ -f "$apt/sources.list" ] || return 1
  fi
  "$tool" -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o Debug::NoLocking=1 \
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64 "$@"
}

debian_arm64_extract() {
  local work=$1 suite=$2 dest=$3
  shift 3
  local pkgs=("$@")
  if [ "${pkgs[0]:-}" = --deps ]; then
    pkgs=("${pkgs[@]:1}")
    _debian_arm64_apt "$work" "$suite" apt-get --version >/dev/null || return 1
    mapfile -t pkgs < <(_debian_arm64_apt "$work" "$suite" apt-cache depends --recurse --no-recommends \
      --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "${pkgs[@]}" \
      | grep -v '^ ' | grep -v '<' | sort -u)
  fi
  local debs=$work/apt-$suite/debs
  mkdir -p "$debs" "$dest"
  # (apt-get warns that root downloads unsandboxed: that line is dropped, errors are not)
  (cd "$debs" && _debian_arm64_apt "$work" "$suite" apt-get download -qq "${pkgs[@]}" 2>&1 \
    | grep -v 'unsandboxed as root' >&2) || true
  local p f
  for p in "${pkgs[@]}"; do
    f=$(ls "$debs/${p%%:*}"_*.deb 2>/dev/null | head -1)
    [ -n "$f" ] || { echo "debian_arm64: $p was not downloaded from $suite" >&2; return 1; }
    dpkg -x "$f" "$dest"
  done
}
