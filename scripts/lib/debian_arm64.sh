# Debian arm64 packages for cross builds and qemu tests, fetched with a private apt
# configuration: the system's sources, lists and dpkg state are never touched, and no
# root is needed. Sourced by scripts/build_wheels.sh and scripts/test_wheels.sh.
#
#   debian_arm64_extract WORK SUITE DEST [--deps] PKG...
#     downloads PKG... (with --deps: and everything they depend on, recursively) for
#     arm64 from Debian SUITE (bookworm, trixie, ...) and unpacks them into DEST.

_debian_arm64_apt() {  # _debian_arm64_apt WORK SUITE apt-get|apt-cache ARGS...
  local apt=$1/apt-$2 tool=$3
  shift 3
  if [ ! -f "$apt/sources.list" ]; then
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
    echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $2 main" \
      > "$apt/sources.list.new"
    "$tool" -o Dir::Etc::SourceList="$apt/sources.list.new" -o Dir::Etc::SourceParts=/dev/null \
      -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o Debug::NoLocking=1 \
      -o APT::Architecture=arm64 -o APT::Architectures::=arm64 update -qq
    mv "$apt/sources.list.new" "$apt/sources.list"
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
    # apt-get is fine with apt-cache here: _debian_arm64_apt only needs the tool's -o options.
    _debian_arm64_apt "$work" "$suite" apt-get --version >/dev/null
    mapfile -t pkgs < <(_debian_arm64_apt "$work" "$suite" apt-cache depends --recurse --no-recommends \
      --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "${pkgs[@]}" \
      | grep -v '^ ' | grep -v '<' | sort -u)
  fi
  local debs=$work/apt-$suite/debs
  mkdir -p "$debs" "$dest"
  (cd "$debs" && _debian_arm64_apt "$work" "$suite" apt-get download -qq "${pkgs[@]}" 2>/dev/null)
  local p f
  for p in "${pkgs[@]}"; do
    f=$(ls "$debs/${p%%:*}"_*.deb 2>/dev/null | head -1)
    [ -n "$f" ] || { echo "debian_arm64: $p was not downloaded from $suite" >&2; return 1; }
    dpkg -x "$f" "$dest"
  done
}
