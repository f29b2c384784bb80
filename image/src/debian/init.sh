#!/bin/sh
# The Debian machine's /init (mkoutpost's, beside Debian's unmodified
# binaries): mounts, device nodes, the modules the machine needs, what
# Debian's maintainer scripts would have set up, then the machine's own
# /etc/interop/rc (addresses, routes, daemons) and a root shell on the
# serial console.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
/bin/busybox mkdir -p /proc /sys /dev /run /tmp /var/run /var/log
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox mkdir -p /dev/pts
/bin/busybox mount -t devpts devpts /dev/pts
/bin/busybox mount -t tmpfs tmpfs /run
# Applets only where Debian's packages put no program of the same name.
/bin/busybox --install -s 2>/dev/null
ln -sf /proc/self/fd /dev/fd
# iptables' postinst: update-alternatives picks the nft flavour.
ln -sf iptables-nft /usr/sbin/iptables
ln -sf iptables-nft-save /usr/sbin/iptables-save
# Debian's kernel is modular: the NICs, PPP, netfilter.
depmod -a
for m in $(cat /etc/interop-modules); do modprobe "$m" || echo "interop: modprobe $m failed"; done
# dpkg gives pppd to root:dip, setuid (the archive is root-owned).
chgrp dip /usr/sbin/pppd && chmod 4754 /usr/sbin/pppd
# openssh-server's postinst: the privilege-separation directory.
mkdir -p /run/sshd && chmod 0755 /run/sshd
ip link set lo up
[ -x /etc/interop/rc ] && /etc/interop/rc
echo "interop: ready"
exec setsid cttyhack /bin/sh -l
