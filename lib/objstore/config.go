package objstore

import (
	"github.com/harborstays/concierge/lib/config"
)

// Settings of the backup store. The S3 store is chosen by configuration
// alone: an access key (env or the r2-access-key-id secret) switches it on;
// without one, objects go to the local folder.
var (
	S3Endpoint = config.Register(config.Setting{Name: "BACKUP_S3_ENDPOINT",
		Help: "S3 API endpoint of the backup bucket (R2: https://ACCOUNT_ID.r2.cloudflarestorage.com); required with an access key", Used: "backup, make restore"})
	S3Bucket = config.Register(config.Setting{Name: "BACKUP_S3_BUCKET", Default: "concierge-backups",
		Help: "bucket that receives the backups", Used: "backup, make restore"})
	S3Region = config.Register(config.Setting{Name: "BACKUP_S3_REGION", Default: "auto",
		Help: "S3 region (R2: auto)", Used: "backup, make restore"})
	S3AccessKeyID = config.Register(config.Setting{Name: "BACKUP_S3_ACCESS_KEY_ID", Secret: "r2-access-key-id",
		Help: "S3 access key id; when set, backups go to the bucket instead of BACKUP_DIR", Used: "backup, make restore"})
	S3SecretAccessKey = config.Register(config.Setting{Name: "BACKUP_S3_SECRET_ACCESS_KEY", Secret: "r2-secret-access-key",
		Help: "S3 secret access key", Used: "backup, make restore"})
	Folder = config.Register(config.Setting{Name: "BACKUP_DIR", Default: ".data/backups",
		Help: "folder that receives the backups when no S3 access key is set (relative paths: from the working directory)", Used: "backup, make restore"})
)

// FromConfig returns the S3 store when an access key is configured, else the
// local folder. Missing or malformed settings are recorded in cfg: check
// cfg.Err() before using the store.
func FromConfig(cfg *config.Config) (Store, error) {
	if id := cfg.String(S3AccessKeyID); id != "" {
		o := S3Options{
			Endpoint:        cfg.URL(S3Endpoint),
			Bucket:          cfg.Require(S3Bucket),
			Region:          cfg.String(S3Region),
			AccessKeyID:     id,
			SecretAccessKey: cfg.Require(S3SecretAccessKey),
		}
		if o.Endpoint == "" {
			cfg.Require(S3Endpoint)
		}
		if err := cfg.Err(); err != nil {
			return nil, err
		}
		return NewS3(o)
	}
	return NewDir(cfg.String(Folder))
}
