# shellcheck shell=bash disable=SC2154 # the variables are .ci/rehearse's
# .ci/rehearse.d/debian.sh, sourced by .ci/rehearse: the Debian-based
# function templates (concierge-go-speech, concierge-go-pg) on a Debian 12
# root filesystem made with debootstrap from the machine's Debian mirror.
#
# The template's ship stage starts FROM debian:bookworm-slim and RUNs
# apt-get; the rehearsal's engine pulls nothing and builds without network,
# so the stage's RUN commands (written out by `rehearse ship -run-out`) run
# verbatim in a chroot of a `debootstrap --variant=minbase bookworm` tree,
# with the stage's ARG values in the environment, and the tree is
# `docker import`ed as the stage's base. The tar is cached in
# $cache/debian-bookworm-<key>.tar, keyed by the commands, the arguments
# and the mirror, so a changed package list builds anew.
#
# Needs: debootstrap (installed from Debian if missing), root.

# debian_mirror prints the URI the machine's apt uses for bookworm.
debian_mirror() {
	local m
	m=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
		grep -m1 -E 'debian(/| |$)' | grep -v security | sed -E 's/^URIs:[[:space:]]*//; s/^deb (\[[^]]*\] )?//; s/[[:space:]].*//')
	echo "${m:-http://deb.debian.org/debian}"
}

# debian_base NAME RUNFILE [VAR=VALUE...]: import (building once) a Debian
# 12 base with RUNFILE's commands applied; prints the image's tag.
debian_base() {
	local name=$1 runfile=$2
	shift 2
	local mirror key tar tag d
	mirror=$(debian_mirror)
	key=$( { echo "bookworm $mirror"; printf '%s\n' "$@"; cat "$runfile"; } | sha256sum | cut -c1-16)
	tar=$cache/debian-bookworm-$name-$key.tar
	tag=rehearsal/debian-$name:$key
	if [[ ! -s $tar ]]; then
		# debootstrap, and Debian's keyring where the host is not Debian
		# (Ubuntu CI runners), to check the release it fetches.
		local need=()
		command -v debootstrap >/dev/null || need+=(debootstrap)
		[[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] || need+=(debian-archive-keyring)
		if ((${#need[@]})); then
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}" >"$work/apt-debootstrap.log" 2>&1 ||
				die "apt-get install ${need[*]} failed (see $work/apt-debootstrap.log)"
		fi
		echo "    debootstrap bookworm from $mirror for $name (once; cached in $tar)" >&2
		d=$work/debian-$name
		mkdir -p "$d"
		nice debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg bookworm "$d" "$mirror" \
			>"$work/debootstrap-$name.log" 2>&1 ||
			{ tail -20 "$work/debootstrap-$name.log" >&2; die "debootstrap for $name failed"; }
		# As debian:bookworm-slim: the release, its updates and security.
		local security=${mirror%/debian}/debian-security
		cat >"$d/etc/apt/sources.list" <<-EOF
			deb $mirror bookworm main
			deb $mirror bookworm-updates main
			deb $security bookworm-security main
		EOF
		cp /etc/resolv.conf "$d/etc/resolv.conf"
		# No service starts inside the chroot.
		printf '#!/bin/sh\nexit 101\n' >"$d/usr/sbin/policy-rc.d"
		chmod 0755 "$d/usr/sbin/policy-rc.d"
		# debootstrap made the device nodes apt needs; only /proc is mounted
		# (never the host's /dev: the tree is removed afterwards).
		mount -t proc proc "$d/proc"
		local rc=0
		env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@" \
			chroot "$d" /bin/sh -ec "$(cat "$runfile")" >"$work/chroot-$name.log" 2>&1 || rc=$?
		umount "$d/proc" 2>/dev/null || umount -l "$d/proc"
		((rc == 0)) || { tail -20 "$work/chroot-$name.log" >&2; die "the template's RUN for $name failed in the chroot"; }
		rm -f "$d/usr/sbin/policy-rc.d" "$d/etc/resolv.conf"
		rm -rf "$d/var/cache/apt/archives/"*.deb "$d/var/lib/apt/lists/"* "$d/var/log/"*.log
		mkdir -p "$cache"
		tar --numeric-owner -C "$d" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
		rm -rf "$d"
	fi
	if ! $docker image inspect "$tag" >/dev/null 2>&1; then
		$docker import "$tar" "$tag" >/dev/null || die "docker import $tar failed"
	fi
	echo "$tag"
}
