#!/bin/sh
# Creates $STORAGE_BUCKET in SeaweedFS unless it exists. Exits non-zero while
# SeaweedFS is not reachable yet, so Swarm retries (restart_policy on-failure).
set -eu
list=$(echo "s3.bucket.list" | weed shell -master="$SEAWEEDFS_MASTER")
if printf '%s\n' "$list" | grep -qw -- "$STORAGE_BUCKET"; then
  echo "bucket $STORAGE_BUCKET exists"
  exit 0
fi
echo "s3.bucket.create -name $STORAGE_BUCKET" | weed shell -master="$SEAWEEDFS_MASTER"
echo "s3.bucket.list" | weed shell -master="$SEAWEEDFS_MASTER" | grep -qw -- "$STORAGE_BUCKET"
echo "bucket $STORAGE_BUCKET created"
