#!/usr/bin/env bash
# Builds the deltawire container image where no base image can be pulled and no Docker engine runs:
# a Debian 12 root file system from the package mirror (debootstrap), the Containerfile's runtime
# stage applied to it (its RUN commands in a chroot, its USER/ENV/EXPOSE/STOPSIGNAL/ENTRYPOINT as
# image settings), deltawire and deltawire-mock from a build directory of this Debian 12 host in
# place of the build stage, then `podman import`. As root; needs debootstrap and podman.
#   deploy/build-image.sh BUILD_DIR [IMAGE]        (IMAGE defaults to localhost/deltawire:latest)
# DW_DEBIAN_MIRROR overrides the mirror (default http://deb.debian.org/debian).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 BUILD_DIR [IMAGE]" >&2
  exit 2
fi
build=$(realpath "$1")
image=${2:-localhost/deltawire:latest}
mirror=${DW_DEBIAN_MIRROR:-http://deb.debian.org/debian}
containerfile=$(dirname "$(realpath "$0")")/Containerfile
for bin in "$build/proxy/deltawire" "$build/mock/deltawire-mock"; do
  [ -x "$bin" ] || { echo "$0: $bin is missing (build first)" >&2; exit 1; }
done
for tool in debootstrap podman chroot; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is needed (apt-get install debootstrap podman)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root

# The runtime stage: the lines after the Containerfile's last FROM, continuation lines joined.
stage=$(awk '/^FROM /{s=""; next} {s=s $0 "\n"} END{printf "%s", s}' "$containerfile" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta')

debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" >&2; exit 1; }

changes=()
while IFS= read -r line; do
  case "$line" in
    ''|'#'*) ;;
    'RUN '*)
      chroot "$root" /bin/sh -ec "${line#RUN }" >"$work/run.log" 2>&1 || { tail -20 "$work/run.log" >&2; exit 1; } ;;
    'COPY --from=build '*)
      # the build stage's products come from the host's build directory
      install -m 0755 "$build/proxy/deltawire" "$build/mock/deltawire-mock" "$root/usr/local/bin/" ;;
    'USER '*|'ENV '*|'EXPOSE '*|'STOPSIGNAL '*|'ENTRYPOINT '*|'CMD '*) changes+=(--change "$line") ;;
    *) echo "$0: cannot apply '$line' from $containerfile" >&2; exit 1 ;;
  esac
done <<<"$stage"

# what debootstrap downloaded stays out of the image
chroot "$root" apt-get clean
tar -C "$root" -cf "$work/rootfs.tar" .
podman import "${changes[@]}" "$work/rootfs.tar" "$image" >/dev/null
echo "$image"
