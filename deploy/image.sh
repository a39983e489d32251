#!/usr/bin/env bash
# Builds and checks the `once serve` image with podman, on a machine where no container registry is
# reachable (the base image is built from Debian's archive with mmdebstrap, once, and kept).
#
#   deploy/image.sh base    build the JRE 21 base image (Debian trixie, openjdk-21-jre-headless) unless present
#   deploy/image.sh build   base, then the image from deploy/Dockerfile (builds once.jar if missing)
#   deploy/image.sh check   build, then 3 containers on one PostgreSQL in front of a slow fake API
#                           (deploy/ImageCheck.java): one upstream call per key, SIGTERM mid-load
#
# Needs: podman, runc, mmdebstrap (apt-get install podman runc mmdebstrap), root or rootless podman, a JDK 21+.
# Environment: ONCE_BASE_IMAGE (default localhost/once-base:jre21-trixie; set it to a pulled image such as
# eclipse-temurin:21-jre to skip mmdebstrap), ONCE_IMAGE (default localhost/once:dev), ONCE_JAR,
# ONCE_CHECK_DB_URL / _USER / _PASSWORD (default jdbc:postgresql://127.0.0.1:5432/test, postgres),
# CONTAINERS_CONF (default deploy/containers.conf: cgroupfs, no default ulimits).
# Exit codes: 0 passed, 1 a check failed, 2 usage or build error, 3 the base image could not be built.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
base="${ONCE_BASE_IMAGE:-localhost/once-base:jre21-trixie}"
image="${ONCE_IMAGE:-localhost/once:dev}"
jar="${ONCE_JAR:-$root/once-cli/target/once.jar}"
podman=(podman --runtime runc)
say() { printf 'image.sh: %s\n' "$*" >&2; }

build_base() {
  if "${podman[@]}" image exists "$base"; then
    say "base $base present ($(size "$base"))"
    return 0
  fi
  if [ "$base" != "localhost/once-base:jre21-trixie" ]; then
    say "base $base is not present; pull it first (podman pull $base)"
    return 3
  fi
  command -v mmdebstrap >/dev/null || { say "mmdebstrap is not installed (apt-get install mmdebstrap)"; return 3; }
  local dir start
  dir="$(mktemp -d)"
  start=$SECONDS
  say "building base $base with mmdebstrap from deb.debian.org (once; about a minute) ..."
  # The man-page folder must exist for update-alternatives even though man pages are left out.
  if ! mmdebstrap --quiet --variant=apt --include=openjdk-21-jre-headless,ca-certificates \
      --essential-hook='mkdir -p "$1/usr/share/man/man1"' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      trixie "$dir/base.tar" "${ONCE_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$dir/log" 2>&1; then
    tail -n 20 "$dir/log" >&2
    rm -rf "$dir"
    say "could not build the base image (is Debian's archive reachable?)"
    return 3
  fi
  "${podman[@]}" import --quiet --change 'CMD ["/bin/bash"]' "$dir/base.tar" "$base" >/dev/null
  rm -rf "$dir"
  say "base $base built in $((SECONDS - start)) s ($(size "$base"))"
}

build_image() {
  if [ ! -f "$jar" ]; then
    say "building $jar ..."
    (cd "$root" && ./mvnw -B -q -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true -pl once-cli -am package) || return 2
  fi
  local start=$SECONDS context="$root"
  if [ "$jar" != "$root/once-cli/target/once.jar" ]; then
    context="$(mktemp -d)"
    mkdir -p "$context/once-cli/target"
    cp "$jar" "$context/once-cli/target/once.jar"
  fi
  local old
  old="$("${podman[@]}" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
  # --format docker keeps the HEALTHCHECK (the OCI format has none)
  "${podman[@]}" build --quiet --format docker --build-arg "BASE=$base" -f "$here/Dockerfile" -t "$image" "$context" >/dev/null || return 2
  # the previous build of this tag, now untagged: removed so repeated checks do not pile up images
  if [ -n "$old" ] && [ "$old" != "$("${podman[@]}" image inspect --format '{{.Id}}' "$image")" ]; then
    "${podman[@]}" rmi "$old" >/dev/null 2>&1 || true
  fi
  [ "$context" = "$root" ] || rm -rf "$context"
  say "image $image built in $((SECONDS - start)) s ($(size "$image"); once.jar $(du -m "$jar" | cut -f1) MB)"
}

size() { "${podman[@]}" image inspect --format '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1 / 1e6}'; }

find_java() {
  local c
  for c in ${ONCE_JAVA:+"$ONCE_JAVA"} ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java 2>/dev/null || true)" /usr/lib/jvm/*/bin/java; do
    [ -x "$c" ] || continue
    "$c" -XshowSettings:properties -version 2>&1 | grep -Eq 'java\.specification\.version = (2[1-9]|[3-9][0-9])' && { echo "$c"; return 0; }
  done
  say "needs a JDK 21 or newer (ONCE_JAVA, JAVA_HOME, PATH or /usr/lib/jvm)"
  return 2
}

check() {
  local java
  java="$(find_java)" || return 2
  "$java" -cp "$jar" "$here/ImageCheck.java" "$image"
}

case "${1:-check}" in
  base) build_base ;;
  build) build_base && build_image ;;
  check) build_base && build_image && PODMAN="${podman[*]}" check ;;
  *) say "usage: deploy/image.sh [base|build|check]"; exit 2 ;;
esac
