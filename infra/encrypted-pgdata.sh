#!/usr/bin/env bash
# Put PostgreSQL's data directory on an encrypted volume: community PostgreSQL has no transparent encryption,
# so the host encrypts the disk under it. The results database (plates, places, times) and Prefect's database
# (its artifacts and events name plates too) both live there.
#
#   sudo infra/encrypted-pgdata.sh luks /dev/sdX [--dry-run]     # a whole empty disk or partition, LUKS2
#   sudo infra/encrypted-pgdata.sh zfs  tank     [--dry-run]     # a new dataset in an existing ZFS pool
#
# Environment (optional):
#   PGDATA_MOUNT  where the volume is mounted (default /srv/pgdata; PostgreSQL's directory is PGDATA_MOUNT/15/main)
#   KEY_FILE      the volume key (default /etc/dashcam-processor/pgdata.key, root:root 0400, made when missing)
#   FORMAT_ONLY=1 luks: format and check the key, nothing else (works on an image file, no device mapper)
#
# What it does not do: move an existing cluster. With the volume mounted, stop PostgreSQL (or the compose
# stack), copy the old directory over (rsync -aHAX), point data_directory (or the compose volume) at the new
# path, start it again (infra/README.md, "Encrypting PostgreSQL's data directory").
#
# The key file on the root disk protects a stolen or discarded data disk, not a stolen whole server: for that,
# unlock at boot by passphrase, TPM2 (systemd-cryptenroll --tpm2-device=auto) or network (Clevis/Tang) instead.
set -euo pipefail

usage() { sed -n '6,7p' "$0" >&2; exit 2; }
(($# >= 2)) || usage
mode=$1 target=$2
dry_run=0
[[ ${3:-} == --dry-run ]] && dry_run=1
mount_at=${PGDATA_MOUNT:-/srv/pgdata}
key_file=${KEY_FILE:-/etc/dashcam-processor/pgdata.key}
name=pgdata

die() { echo "encrypted-pgdata: $*" >&2; exit 1; }
run() {
  printf '+ %s\n' "$*"
  ((dry_run)) || "$@"
}

make_key() {
  # 64 random bytes: LUKS and ZFS (keyformat=raw takes exactly 32) read it as a key file, not a passphrase
  local bytes=$1
  if [[ -e $key_file ]]; then
    [[ $(stat -c %a "$key_file") == 400 || $(stat -c %a "$key_file") == 600 ]] ||
      die "$key_file: readable by others (mode $(stat -c %a "$key_file")): chmod 400 it"
    [[ $(stat -c %s "$key_file") == "$bytes" ]] || die "$key_file: not a $bytes-byte key file"
    echo "using the key in $key_file"
    return
  fi
  ((dry_run)) && { printf '+ make %s (%s random bytes, mode 0400)\n' "$key_file" "$bytes"; return; }
  install -d -m 750 "$(dirname "$key_file")"
  (umask 377 && head -c "$bytes" /dev/urandom >"$key_file")
  echo "made $key_file: copy it somewhere safe off this machine (without it the volume is lost)"
}

case $mode in
  luks)
    ((dry_run)) || command -v cryptsetup >/dev/null || die "cryptsetup is not installed (apt-get install cryptsetup)"
    ((dry_run)) || [[ -b $target || -f $target ]] || die "$target: not a block device (or an image file)"
    if ((!dry_run)) && command -v blkid >/dev/null && blkid -p "$target" >/dev/null 2>&1; then
      die "$target already holds a file system or partition table: refusing to format it"
    fi
    make_key 64
    run cryptsetup luksFormat --batch-mode --type luks2 --cipher aes-xts-plain64 --key-size 512 \
      --hash sha256 --pbkdf argon2id --key-file "$key_file" "$target"
    run cryptsetup open --test-passphrase --key-file "$key_file" "$target"
    [[ ${FORMAT_ONLY:-} == 1 ]] && exit 0
    run cryptsetup open --key-file "$key_file" "$target" "$name"
    run mkfs.ext4 -q -L pgdata "/dev/mapper/$name"
    uuid=$( ((dry_run)) && echo '<uuid>' || cryptsetup luksUUID "$target")
    if ((!dry_run)); then
      grep -q "^$name " /etc/crypttab 2>/dev/null ||
        echo "$name UUID=$uuid $key_file luks,discard" >>/etc/crypttab
      install -d -m 700 "$mount_at"
      grep -q " $mount_at " /etc/fstab ||
        echo "/dev/mapper/$name $mount_at ext4 defaults,noatime,nofail 0 2" >>/etc/fstab
      systemctl daemon-reload
      mount "$mount_at"
    else
      printf '+ /etc/crypttab: %s UUID=%s %s luks,discard\n' "$name" "$uuid" "$key_file"
      printf '+ /etc/fstab: /dev/mapper/%s %s ext4 defaults,noatime,nofail 0 2\n' "$name" "$mount_at"
    fi
    ;;
  zfs)
    ((dry_run)) || command -v zfs >/dev/null || die "zfs is not installed (apt-get install zfsutils-linux, from contrib)"
    ((dry_run)) || zpool list -H -o name "$target" >/dev/null 2>&1 || die "$target: no such ZFS pool"
    make_key 32
    # recordsize 16k: PostgreSQL writes 8 KiB pages; lz4 costs little and saves the encryption some work
    run zfs create -o encryption=aes-256-gcm -o keyformat=raw -o "keylocation=file://$key_file" \
      -o recordsize=16k -o compression=lz4 -o atime=off -o "mountpoint=$mount_at" "$target/$name"
    echo "at boot: zfs-load-key.service (or 'zfs load-key -a') must run before zfs-mount.service"
    ;;
  *) usage ;;
esac

if ((!dry_run)); then
  install -d -o postgres -g postgres -m 700 "$mount_at/15" 2>/dev/null ||
    echo "no postgres user yet: create $mount_at/15 owned by it (mode 700) after installing PostgreSQL"
fi
echo "encrypted volume ready at $mount_at; now move the cluster (infra/README.md)"
