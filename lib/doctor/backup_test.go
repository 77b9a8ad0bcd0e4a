package doctor

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/harborstays/concierge/lib/objstore/s3test"
)

func TestBackupBucket(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	env := func(change ...string) map[string]string {
		m := map[string]string{"BACKUP_S3_ENDPOINT": srv.Endpoint, "BACKUP_S3_BUCKET": bucket, "BACKUP_PREFIX": "production/",
			"BACKUP_S3_ACCESS_KEY_ID": s3test.AccessKey, "BACKUP_S3_SECRET_ACCESS_KEY": s3test.SecretKey}
		for i := 0; i+1 < len(change); i += 2 {
			m[change[i]] = change[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name       string
		env        map[string]string
		state      State
		found, fix string
	}{
		{"right", env(), OK, "under production/doctor/ in s3://", ""},
		{"missing bucket", env("BACKUP_S3_BUCKET", "no-such-bucket"), Fail, "put refused: NoSuchBucket", "BACKUP_S3_BUCKET"},
		{"unknown access key", env("BACKUP_S3_ACCESS_KEY_ID", "AKIAREVOKED00000000"), Fail, "put refused", "BACKUP_S3_ACCESS_KEY_ID (secret r2-access-key-id): the endpoint does not know this key"},
		{"wrong secret key", env("BACKUP_S3_SECRET_ACCESS_KEY", "not-the-secret-0123456789"), Fail, "SignatureDoesNotMatch", "BACKUP_S3_SECRET_ACCESS_KEY"},
		{"unreachable endpoint", env("BACKUP_S3_ENDPOINT", "http://127.0.0.1:1"), Fail, "127.0.0.1:1", "BACKUP_S3_ENDPOINT"},
		{"endpoint missing", env("BACKUP_S3_ENDPOINT", ""), Fail, "BACKUP_S3_ENDPOINT", "correct the setting"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := report(t, tc.env, Options{})
			want(t, res, "backup bucket", tc.state, tc.found, tc.fix)
			if r := res["backup bucket"]; containsStr(r.Found+r.Fix, tc.env["BACKUP_S3_SECRET_ACCESS_KEY"]) {
				t.Fatalf("secret shown: %q", r.Found)
			}
		})
	}
	if out := srv.AWS(t, "s3api", "list-objects-v2", "--bucket", bucket); containsStr(string(out), "doctor/") {
		t.Fatalf("probe left behind: %s", out)
	}
}

// R2 answers a token it does not accept (wrong, revoked or expired) with
// 401 and S3 code Unauthorized (its error 10002,
// developers.cloudflare.com/r2/api/error-codes), not S3's
// InvalidAccessKeyId; the doctor must name the token, not the bucket's
// permissions.
func TestBackupBucketR2RefusesTheToken(t *testing.T) {
	r2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>Unauthorized</Code><Message>Unauthorized</Message></Error>`)
	}))
	defer r2.Close()
	res := report(t, map[string]string{"BACKUP_S3_ENDPOINT": r2.URL, "BACKUP_S3_BUCKET": "concierge-backups", "BACKUP_PREFIX": "production/",
		"BACKUP_S3_ACCESS_KEY_ID": "expired-token-id", "BACKUP_S3_SECRET_ACCESS_KEY": "expired-token-secret-0123456789"}, Options{})
	want(t, res, "backup bucket", Fail, "put refused: Unauthorized", "R2 does not accept this token; it is wrong, revoked or expired")
}
