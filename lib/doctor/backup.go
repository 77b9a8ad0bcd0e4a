package doctor

import (
	"context"
	"errors"
	"fmt"

	"github.com/harborstays/concierge/lib/backup"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/objstore"
)

func (d *Doctor) backupBucket(ctx context.Context, cfg *config.Config) Result {
	if !configured(cfg, objstore.S3AccessKeyID) {
		return LocalDefault("folder BACKUP_DIR=%s (BACKUP_S3_ACCESS_KEY_ID unset)", cfg.String(objstore.Folder))
	}
	store, err := objstore.FromConfig(cfg)
	prefix := cfg.String(backup.KeyPrefix)
	if cerr := cfg.Err(); cerr != nil {
		return settingsFailed(cerr)
	}
	if err != nil {
		return settingsFailed(err)
	}
	bucket := cfg.String(objstore.S3Bucket)
	_, err = objstore.Probe(ctx, store, prefix)
	if err == nil {
		return Pass("wrote, read back and deleted a small object under %s%s in %s", prefix, objstore.ProbePrefix, store)
	}
	var pe *objstore.ProbeError
	step := "probe"
	if errors.As(err, &pe) {
		step = pe.Step
	}
	code, msg := objstore.S3Error(err)
	found := fmt.Sprintf("%s: %v", store, err)
	if code != "" {
		found = fmt.Sprintf("%s: %s refused: %s: %s", store, step, code, msg)
	}
	switch {
	case code == "NoSuchBucket":
		return Failed(found, fmt.Sprintf("BACKUP_S3_BUCKET: no bucket %s at BACKUP_S3_ENDPOINT (terraform output r2_bucket)", bucket))
	case code == "InvalidAccessKeyId" || code == "XAdminUserNotFound":
		// S3's code for an unknown key id (versitygw says it its own way).
		return Failed(found, "BACKUP_S3_ACCESS_KEY_ID (secret r2-access-key-id): the endpoint does not know this key")
	case code == "Unauthorized":
		// R2's 401 (error 10002): "missing or invalid authentication
		// credentials", which is also how a revoked or expired token reads.
		return Failed(found, "BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY (secrets r2-access-key-id, r2-secret-access-key): R2 does not accept this token; it is wrong, revoked or expired (Cloudflare dashboard > R2 > Manage API tokens)")
	case code == "SignatureDoesNotMatch":
		return Failed(found, "BACKUP_S3_SECRET_ACCESS_KEY (secret r2-secret-access-key): it is not the secret of BACKUP_S3_ACCESS_KEY_ID")
	case code == "AccessDenied" || code == "Forbidden":
		return Failed(found, fmt.Sprintf("the R2 API token (BACKUP_S3_ACCESS_KEY_ID) needs Object Read & Write on bucket %s; %s was refused", bucket, step))
	case code != "":
		return Failed(found, "BACKUP_S3_ENDPOINT and BACKUP_S3_BUCKET: the S3 endpoint refused the "+step)
	case step == "compare":
		return Failed(found, "BACKUP_S3_ENDPOINT: the store returned other bytes than were written; check the endpoint is the bucket's S3 API")
	}
	return Failed(found, "BACKUP_S3_ENDPOINT: check that it is reachable from here (R2: https://ACCOUNT_ID.r2.cloudflarestorage.com)")
}
