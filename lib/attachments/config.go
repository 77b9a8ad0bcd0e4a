package attachments

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/backup"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/objstore"
)

// Settings of the attachment backup. As with R2, the access key switches it
// on: without one (make run) the backup skips attachments and says so.
var (
	S3Endpoint = config.Register(config.Setting{Name: "ATTACHMENTS_S3_ENDPOINT",
		Help: "S3 API of Chatwoot's attachment storage (SeaweedFS: http://seaweedfs_seaweedfs:8333); required with its access key", Used: "backup, make restore"})
	BucketName = config.Register(config.Setting{Name: "ATTACHMENTS_BUCKET", Default: "chatwoot",
		Help: "bucket of Chatwoot's attachments (Chatwoot's STORAGE_BUCKET_NAME)", Used: "backup, make restore"})
	S3Region = config.Register(config.Setting{Name: "ATTACHMENTS_S3_REGION", Default: "us-east-1",
		Help: "region the attachment storage signs with (Chatwoot's STORAGE_REGION)", Used: "backup, make restore"})
	S3AccessKeyID = config.Register(config.Setting{Name: "ATTACHMENTS_S3_ACCESS_KEY_ID", Secret: "attachments-access-key-id",
		Help: "key that reads (and, for make restore, writes) the attachment bucket; when set, every backup run also copies the bucket", Used: "backup, make restore"})
	S3SecretAccessKey = config.Register(config.Setting{Name: "ATTACHMENTS_S3_SECRET_ACCESS_KEY", Secret: "attachments-secret-access-key",
		Help: "secret of ATTACHMENTS_S3_ACCESS_KEY_ID", Used: "backup, make restore"})
	KeepDays = config.Register(config.Setting{Name: "BACKUP_ATTACHMENTS_KEEP_DAYS", Default: "35",
		Help: "days the copy of an attachment deleted (or replaced) in the bucket is kept: at least as old as the oldest database backup (BACKUP_KEEP_WEEKLY weeks), whose conversations may point at it", Used: "backup"})
	VerifySample = config.Register(config.Setting{Name: "BACKUP_ATTACHMENTS_VERIFY_SAMPLE", Default: "50",
		Help: "stored copies each run reads back, decrypts and checks against their sha256 (half from the run's own copies)", Used: "backup"})
	CopyBudget = config.Register(config.Setting{Name: "BACKUP_ATTACHMENTS_BUDGET", Default: "30m",
		Help: "time a run spends copying attachments; what is left is copied by the next run (the first run of a large bucket)", Used: "backup"})
)

// Enabled reports whether the attachment settings are present.
func Enabled(cfg *config.Config) bool { return cfg.String(S3AccessKeyID) != "" }

// BucketFromConfig builds the attachment bucket's client, or nil when no
// access key is set. Missing settings are recorded in cfg.
func BucketFromConfig(cfg *config.Config) *Bucket {
	id := cfg.String(S3AccessKeyID)
	if id == "" {
		return nil
	}
	o := BucketOptions{
		Endpoint:        cfg.URL(S3Endpoint),
		Bucket:          cfg.Require(BucketName),
		Region:          cfg.String(S3Region),
		AccessKeyID:     id,
		SecretAccessKey: cfg.Require(S3SecretAccessKey),
	}
	if o.Endpoint == "" {
		cfg.Require(S3Endpoint)
	}
	if cfg.Err() != nil {
		return nil
	}
	b, err := NewBucket(o)
	if err != nil {
		cfg.Reject(S3Endpoint, "%v", err)
		return nil
	}
	return b
}

// FromConfig builds the Syncer that copies the attachment bucket into
// store under prefix, or nil (and no error) when no attachment settings
// are present.
func FromConfig(cfg *config.Config, pool *pgxpool.Pool, store objstore.Store, crypt *backup.Crypt, prefix string, now func() time.Time) (*Syncer, error) {
	var err error
	src := BucketFromConfig(cfg)
	keep := cfg.Int(KeepDays)
	sample := cfg.Int(VerifySample)
	budget := cfg.Duration(CopyBudget)
	if err = cfg.Err(); err != nil {
		return nil, err
	}
	switch {
	case keep < 1:
		return nil, fmt.Errorf("configuration: BACKUP_ATTACHMENTS_KEEP_DAYS: must be at least 1")
	case sample < 0:
		return nil, fmt.Errorf("configuration: BACKUP_ATTACHMENTS_VERIFY_SAMPLE: must be 0 or more")
	case budget <= 0:
		return nil, fmt.Errorf("configuration: BACKUP_ATTACHMENTS_BUDGET: must be positive")
	}
	if src == nil {
		return nil, nil
	}
	s := &Syncer{DB: pool, Source: src, Store: store, Crypt: crypt, Prefix: prefix,
		KeepDeleted: time.Duration(keep) * 24 * time.Hour, Sample: sample, Budget: budget, Now: now}
	if _, ok := store.(*objstore.S3); ok {
		// The same bucket, for the small copies' single requests.
		s.Direct, err = NewBucket(BucketOptions{
			Endpoint: cfg.String(objstore.S3Endpoint), Bucket: cfg.String(objstore.S3Bucket), Region: cfg.String(objstore.S3Region),
			AccessKeyID: cfg.String(objstore.S3AccessKeyID), SecretAccessKey: cfg.String(objstore.S3SecretAccessKey),
		})
		if err != nil {
			return nil, fmt.Errorf("configuration: backup bucket: %w", err)
		}
	}
	return s, nil
}
