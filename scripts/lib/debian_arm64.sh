# Debian arm64 packages for cross builds and qemu tests, fetched with a private apt
# configuration: the system's sources, lists and dpkg state are never touched, and no
# root is needed. Sourced by scripts/build_wheels.sh and scripts/test_wheels.sh.
#
#   debian_arm64_extract WORK SUITE DEST [--deps] PKG...
#     downloads PKG... (with --deps: and everything they depend on, recursively) for
#     arm64 from Debian SUITE (bookworm, trixie, ...) and unpacks them into DEST.

_debian_arm64_apt() {  # _debian_arm64_apt WORK SUITE SOURCES_FILE apt-get|apt-cache ARGS...
  local apt=$1/apt-$2 sources=$3 tool=$4
  shift 4
  "$tool" -o Dir::Etc::SourceList="$sources" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o Debug::NoLocking=1 \
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64 "$@"
}

_debian_arm64_lists() {  # _debian_arm64_lists WORK SUITE: fetch the suite's package lists once
  local apt=$1/apt-$2 suite=$2 try
  [ -f "$apt/sources.list" ] && return 0
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
    > "$apt/sources.list.new"
  for try in 1 2 3; do
    if _debian_arm64_apt "$1" "$suite" "$apt/sources.list.new" apt-get update -qq \
        && ls "$apt"/lists/*_Packages* >/dev/null 2>&1; then
      mv "$apt/sources.list.new" "$apt/sources.list"
      return 0
    fi
    echo "debian_arm64: apt-get update for $suite failed (try $try of 3)" >&2
    sleep $((try * 5))
  done
  return 1
}

debian_arm64_extract() {
  local work=$1 suite=$2 dest=$3
  shift 3
  local pkgs=("$@") sources=$work/apt-$suite/sources.list
  _debian_arm64_lists "$work" "$suite" || return 1
  if [ "${pkgs[0]:-}" = --deps ]; then
    pkgs=("${pkgs[@]:1}")
    mapfile -t pkgs < <(_debian_arm64_apt "$work" "$suite" "$sources" apt-cache depends --recurse --no-recommends \
      --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "${pkgs[@]}" \
      | grep -v '^ ' | grep -v '<' | sort -u)
  fi
  local debs=$work/apt-$suite/debs
  mkdir -p "$debs" "$dest"
  # (apt-get warns that root downloads unsandboxed: that line is dropped, errors are not)
  (cd "$debs" && _debian_arm64_apt "$work" "$suite" "$sources" apt-get download -qq "${pkgs[@]}" 2>&1 \
    | grep -v 'unsandboxed as root' >&2) || true
  local p f
  for p in "${pkgs[@]}"; do
    f=$(ls "$debs/${p%%:*}"_*.deb 2>/dev/null | head -1)
    [ -n "$f" ] || { echo "debian_arm64: $p was not downloaded from $suite" >&2; return 1; }
    dpkg -x "$f" "$dest"
  done
}
