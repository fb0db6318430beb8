#!/bin/sh
# Builds rootfs.tar in the build context (the current folder) from Debian's busybox-static.
set -eu
busybox="${DOCLAB_BUSYBOX:-/bin/busybox}"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp" "$root/var/spool/mail" "$root/var/www" "$root/home"
cp "$busybox" "$root/bin/busybox"
# The applets as symlinks at their usual paths, as `busybox --install -s` would make them.
for applet in $("$busybox" --list-full); do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -sf /bin/busybox "$root/$applet"
done
chmod 1777 "$root/tmp"
chmod 700 "$root/root"
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
mail:x:12:
www-data:x:33:
users:x:100:
nogroup:x:65534:
GROUP
tar --numeric-owner --owner=0 --group=0 -C "$root" -cf rootfs.tar .
