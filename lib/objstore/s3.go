package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Bounds of the S3 store.
const (
	// DefaultPartSize is the size of every multipart part but the last. R2
	// requires equal part sizes; 8 MiB parts allow objects up to 78 GiB
	// (10,000 parts).
	DefaultPartSize = 8 << 20
	// minPartSize is S3's smallest part (all parts but the last).
	minPartSize = 5 << 20
	// maxParts is S3's limit on parts per upload.
	maxParts = 10000
	// DefaultConcurrency is how many parts upload at once. One part on the
	// wire while the next is read keeps a dump's pace (tens of MB/s after
	// compression) and holds two buffers, 16 MiB.
	DefaultConcurrency = 1
	// maxCopySize is the largest object CopyObject accepts; above it the
	// metadata is rewritten with a multipart copy.
	maxCopySize = 5 << 30
	// copyPartSize is the range of each UploadPartCopy (equal sizes, for R2).
	copyPartSize = 1 << 30
	// contentType of every object: the stores hold opaque archives.
	contentType = "application/octet-stream"
)

// S3Options configure an S3-compatible store.
type S3Options struct {
	// Endpoint is the service URL, e.g. https://<account>.r2.cloudflarestorage.com.
	Endpoint string
	// Region is "auto" for R2.
	Region          string
	Bucket          string
	AccessKeyID     string
	SecretAccessKey string
	// PartSize and Concurrency bound the memory of an upload to
	// PartSize*(Concurrency+1). Zero means the defaults.
	PartSize    int
	Concurrency int
	// HTTPClient replaces the SDK's client (tests).
	HTTPClient *http.Client
}

// S3 is a Store in a bucket of an S3-compatible service.
type S3 struct {
	client      *s3.Client
	bucket      string
	name        string
	partSize    int
	concurrency int
	// copyLimit and copyPart are maxCopySize and copyPartSize; tests lower
	// them to exercise the multipart copy.
	copyLimit int64
	copyPart  int64
}

// NewS3 builds the client. The request checksum calculation and response
// validation are "when required": since aws-sdk-go-v2 service/s3 v1.73.0
// the SDK sends CRC32 checksums by default, which R2 rejected or mismatched
// (see the R2 section of the contracts).
func NewS3(o S3Options) (*S3, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("objstore: S3 endpoint must be an absolute http(s) URL")
	}
	if o.Bucket == "" {
		return nil, errors.New("objstore: S3 bucket missing")
	}
	if o.Region == "" {
		o.Region = "auto"
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < minPartSize {
		return nil, fmt.Errorf("objstore: part size %d below S3's minimum %d", o.PartSize, minPartSize)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	var hc aws.HTTPClient = o.HTTPClient
	if o.HTTPClient == nil {
		hc = awshttp.NewBuildableClient().
			WithDialerOptions(func(d *net.Dialer) { d.Timeout = 10 * time.Second }).
			WithTransportOptions(func(t *http.Transport) {
				// A part is 8 MiB: a minute without response headers
				// means the endpoint is stuck, not slow.
				t.ResponseHeaderTimeout = time.Minute
				t.TLSHandshakeTimeout = 10 * time.Second
			})
	}
	client := NewS3Client(o.Endpoint, o.Region, o.AccessKeyID, o.SecretAccessKey, hc)
	return &S3{
		client: client, bucket: o.Bucket, name: "s3://" + u.Host + "/" + o.Bucket,
		partSize: o.PartSize, concurrency: o.Concurrency,
		copyLimit: maxCopySize, copyPart: copyPartSize,
	}, nil
}

// NewS3Client is the S3 API client for an S3-compatible endpoint as every
// caller here speaks to one (R2, SeaweedFS, the test servers): the bucket
// in the path, static credentials, and checksums only when required (since
// service/s3 v1.73.0 the SDK sends CRC32 checksums by default, which R2
// rejected or mismatched).
func NewS3Client(endpoint, region, accessKeyID, secretAccessKey string, hc aws.HTTPClient) *s3.Client {
	creds := aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey, Source: "concierge settings"}
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(strings.TrimRight(endpoint, "/")),
		// R2 and the test servers take the bucket in the path.
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
		HTTPClient:                 hc,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		// Objects carry their own sha256 in metadata; silence the SDK's
		// "not validating response payload" warning.
		DisableLogOutputChecksumValidationSkipped: true,
	})
}

func (s *S3) String() string { return s.name }

// Check lists one key of the bucket: an object-level call, which an R2
// token scoped to the bucket's objects may make (HeadBucket needs more).
func (s *S3) Check(ctx context.Context) error {
	if _, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket, MaxKeys: aws.Int32(1)}); err != nil {
		return fmt.Errorf("objstore: bucket %s: %w", s.name, err)
	}
	return nil
}

// Put uploads r in parts of PartSize, Concurrency at a time. An object
// smaller than one part is a single PutObject carrying its metadata. A
// larger one is a multipart upload, aborted if anything fails, and then
// copied onto itself with its metadata, which S3 fixes when an upload is
// created — before the content is known.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, meta MetaFunc) (Info, error) {
	if !ValidKey(key) {
		return Info{}, fmt.Errorf("objstore: invalid key %q", key)
	}
	first := make([]byte, s.partSize)
	n, err := io.ReadFull(r, first)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		m := metaOf(meta)
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(first[:n]),
			ContentLength: aws.Int64(int64(n)), ContentType: aws.String(contentType), Metadata: m,
		})
		if err != nil {
			return Info{}, fmt.Errorf("objstore: put %s: %w", key, err)
		}
		return Info{Key: key, Size: int64(n), Modified: time.Now(), Metadata: m}, nil
	case err != nil:
		return Info{}, fmt.Errorf("objstore: put %s: read: %w", key, err)
	}
	size, err := s.multipart(ctx, key, first, r)
	if err != nil {
		return Info{}, err
	}
	m := metaOf(meta)
	if len(m) > 0 {
		if err := s.setMetadata(ctx, key, size, m); err != nil {
			return Info{}, err
		}
	}
	return Info{Key: key, Size: size, Modified: time.Now(), Metadata: m}, nil
}

func metaOf(meta MetaFunc) map[string]string {
	if meta == nil {
		return nil
	}
	return meta()
}

// multipart uploads first and the rest of r; it returns the object's size.
func (s *S3) multipart(ctx context.Context, key string, first []byte, r io.Reader) (size int64, err error) {
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, ContentType: aws.String(contentType),
	})
	if err != nil {
		return 0, fmt.Errorf("objstore: put %s: create multipart upload: %w", key, err)
	}
	id := created.UploadId
	defer func() {
		if err != nil {
			// On a fresh context: ctx may be why we stopped. R2 also aborts
			// stale uploads after 7 days.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_, _ = s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: id})
		}
	}()

	// free holds the idle part buffers; with first, Concurrency+1 exist.
	free := make(chan []byte, s.concurrency+1)
	for i := 0; i < s.concurrency; i++ {
		free <- make([]byte, s.partSize)
	}
	var (
		mu      sync.Mutex
		parts   []types.CompletedPart
		partErr error
		wg      sync.WaitGroup
	)
	// A failed part stops new parts, but parts on the wire are left to
	// finish: an upload cancelled mid-body can outlive the abort on the
	// server and leave the multipart upload behind.
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return partErr
	}
	upload := func(num int32, buf []byte, n int) {
		defer wg.Done()
		defer func() { free <- buf }()
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &s.bucket, Key: &key, UploadId: id, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
		})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if partErr == nil {
				partErr = fmt.Errorf("objstore: put %s: part %d: %w", key, num, err)
			}
			return
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
	}
	size = int64(len(first))
	wg.Add(1)
	go upload(1, first, len(first))
	var readErr error
	for num := int32(2); failed() == nil; num++ {
		buf := <-free
		if failed() != nil {
			break
		}
		n, err := io.ReadFull(r, buf)
		last := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !last {
			free <- buf
			readErr = fmt.Errorf("objstore: put %s: read: %w", key, err)
			break
		}
		if n == 0 {
			free <- buf
			break
		}
		if num > maxParts {
			free <- buf
			readErr = fmt.Errorf("objstore: put %s: more than %d parts of %d bytes", key, maxParts, s.partSize)
			break
		}
		size += int64(n)
		wg.Add(1)
		go upload(num, buf, n)
		if last {
			break
		}
	}
	wg.Wait()
	if readErr != nil {
		return 0, readErr
	}
	if err := failed(); err != nil {
		return 0, err
	}
	sort.Slice(parts, func(i, j int) bool { return *parts[i].PartNumber < *parts[j].PartNumber })
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return 0, fmt.Errorf("objstore: put %s: complete multipart upload: %w", key, err)
	}
	return size, nil
}

func (s *S3) copySource(key string) string {
	return (&url.URL{Path: s.bucket + "/" + key}).EscapedPath()
}

// setMetadata replaces the metadata of an uploaded object by copying it
// onto itself: CopyObject up to 5 GiB, a multipart copy above.
func (s *S3) setMetadata(ctx context.Context, key string, size int64, m map[string]string) error {
	src := s.copySource(key)
	if size <= s.copyLimit {
		_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: &s.bucket, Key: &key, CopySource: &src,
			MetadataDirective: types.MetadataDirectiveReplace, Metadata: m, ContentType: aws.String(contentType),
		})
		if err != nil {
			return fmt.Errorf("objstore: put %s: set metadata: %w", key, err)
		}
		return nil
	}
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, ContentType: aws.String(contentType), Metadata: m,
	})
	if err != nil {
		return fmt.Errorf("objstore: put %s: set metadata: %w", key, err)
	}
	var parts []types.CompletedPart
	for off, num := int64(0), int32(1); off < size; off, num = off+s.copyPart, num+1 {
		end := min(off+s.copyPart, size) - 1
		out, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: &s.bucket, Key: &key, UploadId: created.UploadId, PartNumber: aws.Int32(num),
			CopySource: &src, CopySourceRange: aws.String("bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(end, 10)),
		})
		if err != nil {
			_, _ = s.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: created.UploadId})
			return fmt.Errorf("objstore: put %s: set metadata: copy part %d: %w", key, num, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(num)})
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, UploadId: created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("objstore: put %s: set metadata: complete: %w", key, err)
	}
	return nil
}

// Get streams the object.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, Info{}, s.wrap("get", key, err)
	}
	info := Info{Key: key, Size: aws.ToInt64(out.ContentLength), Metadata: lower(out.Metadata)}
	if out.LastModified != nil {
		info.Modified = *out.LastModified
	}
	return out.Body, info, nil
}

// Head reads size and metadata.
func (s *S3) Head(ctx context.Context, key string) (Info, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return Info{}, s.wrap("head", key, err)
	}
	info := Info{Key: key, Size: aws.ToInt64(out.ContentLength), Metadata: lower(out.Metadata)}
	if out.LastModified != nil {
		info.Modified = *out.LastModified
	}
	return info, nil
}

// List pages through ListObjectsV2.
func (s *S3) List(ctx context.Context, prefix string) ([]Info, error) {
	var out []Info
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("objstore: list %s: %w", s.name, err)
		}
		for _, o := range page.Contents {
			info := Info{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size)}
			if o.LastModified != nil {
				info.Modified = *o.LastModified
			}
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes the object (S3 answers 204 for missing keys too).
func (s *S3) Delete(ctx context.Context, key string) error {
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}); err != nil {
		return s.wrap("delete", key, err)
	}
	return nil
}

func (s *S3) wrap(op, key string, err error) error {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var api smithy.APIError
	if errors.As(err, &nsk) || errors.As(err, &nf) || (errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound")) {
		return fmt.Errorf("objstore: %s %s: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("objstore: %s %s: %w", op, key, err)
}

// lower makes metadata keys lower-case: S3 servers differ in the case they
// return x-amz-meta-* names in.
func lower(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}
