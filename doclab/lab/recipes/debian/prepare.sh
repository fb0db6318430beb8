#!/bin/sh
# Builds rootfs.tar in the build context (the current folder): a minbase Debian bookworm
# from the mirror the host's apt uses (DOCLAB_DEBIAN_MIRROR), cleaned like the slim images.
set -eu
mirror="${DOCLAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${DOCLAB_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}"
root="$(mktemp -d /var/tmp/doclab-debootstrap.XXXXXX)"
trap 'umount -R "$root/proc" 2>/dev/null || true; rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" "$mirror"

# What Docker's debian images do: no apt caches or lists, no docs in derived images.
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
cat > "$root/etc/apt/apt.conf.d/docker-no-languages" <<'CONF'
Acquire::Languages "none";
CONF
cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CONF
rm -f "$root/etc/apt/sources.list"
cat > "$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
echo "doclab" > "$root/etc/hostname"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
       "$root"/var/log/* "$root"/tmp/* "$root"/var/tmp/* "$root"/dev/* "$root"/proc/* "$root"/sys/* \
       "$root"/usr/share/doc/*/changelog* "$root"/usr/share/man/* "$root"/usr/share/info/* \
       "$root"/var/lib/dpkg/*-old "$root"/etc/machine-id "$root"/root/.bash_history
mkdir -p "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial"
tar --numeric-owner -C "$root" -cf rootfs.tar .
