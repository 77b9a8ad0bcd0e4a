package attachments

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/harborstays/concierge/lib/objstore"
)

// Bucket is the attachment bucket through the S3 API (SeaweedFS in
// production): what a sync lists and reads, and what a restore writes.
// objstore.Store does not fit: a sync needs each object's ETag from the
// listing, and a restore writes objects of known size without buffering.
type Bucket struct {
	client *s3.Client
	bucket string
	name   string
	// pageSize bounds a listing page below S3's 1,000 (tests).
	pageSize int32
}

// BucketOptions configure a Bucket.
type BucketOptions struct {
	Endpoint        string
	Region          string
	Bucket          string
	AccessKeyID     string
	SecretAccessKey string
	// HTTPClient replaces the SDK's client (tests).
	HTTPClient *http.Client
}

// Object is a listed object.
type Object struct {
	Key  string
	ETag string // unquoted
	Size int64
}

// ObjectInfo is what Get returns beside the content.
type ObjectInfo struct {
	ETag        string
	Size        int64
	ContentType string
}

// NewBucket builds the client objstore builds for R2 (objstore.NewS3Client:
// path-style addressing, request checksums only when required), with a
// transport for several copies at once.
func NewBucket(o BucketOptions) (*Bucket, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("attachments: S3 endpoint must be an absolute http(s) URL")
	}
	if o.Bucket == "" {
		return nil, errors.New("attachments: bucket missing")
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	var hc aws.HTTPClient = o.HTTPClient
	if o.HTTPClient == nil {
		hc = awshttp.NewBuildableClient().
			WithDialerOptions(func(d *net.Dialer) { d.Timeout = 10 * time.Second }).
			WithTransportOptions(func(t *http.Transport) {
				t.ResponseHeaderTimeout = time.Minute
				// Several copies run at once against one endpoint.
				t.MaxIdleConnsPerHost = 16
			})
	}
	client := objstore.NewS3Client(o.Endpoint, o.Region, o.AccessKeyID, o.SecretAccessKey, hc)
	return &Bucket{client: client, bucket: o.Bucket, name: "s3://" + u.Host + "/" + o.Bucket}, nil
}

// String names the bucket without credentials.
func (b *Bucket) String() string { return b.name }

// Name is the bucket's name.
func (b *Bucket) Name() string { return b.bucket }

// Check lists one key: the bucket answers and the key may read it.
func (b *Bucket) Check(ctx context.Context) error {
	if _, err := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b.bucket, MaxKeys: aws.Int32(1)}); err != nil {
		return fmt.Errorf("attachments: bucket %s: %w", b.name, err)
	}
	return nil
}

// List calls page with each page of the listing (up to 1,000 objects, in
// key order), so a bucket of any size is listed in bounded memory.
func (b *Bucket) List(ctx context.Context, page func([]Object) error) error {
	in := &s3.ListObjectsV2Input{Bucket: &b.bucket}
	if b.pageSize > 0 {
		in.MaxKeys = aws.Int32(b.pageSize)
	}
	p := s3.NewListObjectsV2Paginator(b.client, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("attachments: list %s: %w", b.name, err)
		}
		objs := make([]Object, 0, len(out.Contents))
		for _, o := range out.Contents {
			objs = append(objs, Object{Key: aws.ToString(o.Key), ETag: unquote(aws.ToString(o.ETag)), Size: aws.ToInt64(o.Size)})
		}
		if err := page(objs); err != nil {
			return err
		}
	}
	return nil
}

// Get streams the object.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		return nil, ObjectInfo{}, b.wrap("get", key, err)
	}
	return out.Body, ObjectInfo{ETag: unquote(aws.ToString(out.ETag)), Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType)}, nil
}

// Head returns the object's ETag and size, or ErrNotFound.
func (b *Bucket) Head(ctx context.Context, key string) (Object, error) {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		return Object{}, b.wrap("head", key, err)
	}
	return Object{Key: key, ETag: unquote(aws.ToString(out.ETag)), Size: aws.ToInt64(out.ContentLength)}, nil
}

// Put streams size bytes of r into key in one request. The payload is not
// signed (UNSIGNED-PAYLOAD), as the SDK does over TLS, so the body need not
// be buffered to be hashed first; the caller checks the content's sha256.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	in := &s3.PutObjectInput{Bucket: &b.bucket, Key: &key, Body: r, ContentLength: aws.Int64(size)}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	_, err := b.client.PutObject(ctx, in, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	if err != nil {
		return b.wrap("put", key, err)
	}
	return nil
}

// PutBytes stores body with its metadata in one request: what a small
// attachment's copy needs, its checksum known before it is sent.
func (b *Bucket) PutBytes(ctx context.Context, key string, body []byte, meta map[string]string) error {
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &b.bucket, Key: &key, Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		ContentType: aws.String("application/octet-stream"), Metadata: meta,
	})
	if err != nil {
		return b.wrap("put", key, err)
	}
	return nil
}

// Delete removes the object.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &key}); err != nil {
		return b.wrap("delete", key, err)
	}
	return nil
}

// ErrNotFound means no object has the key.
var ErrNotFound = errors.New("object not found")

func (b *Bucket) wrap(op, key string, err error) error {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var api smithy.APIError
	if errors.As(err, &nsk) || errors.As(err, &nf) || (errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound")) {
		return fmt.Errorf("attachments: %s %s: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("attachments: %s %s in %s: %w", op, key, b.name, err)
}

func unquote(etag string) string { return strings.Trim(etag, `"`) }
