package infratest

// Attachments agents can open (issue 19, part 3): Chatwoot's storage endpoint
// is SeaweedFS's S3 API at https://files.DOMAIN behind Traefik. These tests
// take the endpoint, the bucket and the route from the deployment's own files
// and send what Chatwoot sends (an upload signed in its Authorization header,
// then links presigned for the public host) through a model of Traefik
// configured from those files (traefik_test.go) to a real S3 server
// (versitygw, lib/objstore/s3test). SigV4 signs the Host header and the path:
// if the route rewrote either, the server would refuse the request, as the
// last test shows.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/harborstays/concierge/lib/objstore/s3test"
	"github.com/harborstays/concierge/lib/voice"
)

const testDomain = "example.test"

// deployment is what the Ansible and Terraform files say about the route.
type deployment struct {
	// env is what the platform role passes to the stack files.
	env map[string]string
	// storageEndpoint, forcePathStyle, bucket: Chatwoot's S3 settings.
	storageEndpoint string
	forcePathStyle  bool
	bucket          string
	services        []swarmService
	traefikService  swarmService
	fileMiddlewares map[string]*middleware
	entrypointMWs   []string
	seaweedImage    string
	// voiceDownloadHosts is stt's VOICE_DOWNLOAD_HOSTS as deployed.
	voiceDownloadHosts []string
}

var jinjaVar = regexp.MustCompile(`\{\{\s*([a-z0-9_]+)\s*\}\}`)

// groupVar reads a plain `name: value` from group_vars/all/main.yml and
// resolves the {{ variables }} in it the same way.
func groupVar(t testing.TB, name string) string {
	t.Helper()
	raw, err := os.ReadFile("../../ansible/group_vars/all/main.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:\s*(.*?)\s*$`).FindSubmatch(raw)
	if m == nil {
		t.Fatalf("group_vars/all/main.yml sets no %s", name)
	}
	return resolveJinja(t, strings.Trim(string(m[1]), `"'`))
}

func resolveJinja(t testing.TB, s string) string {
	t.Helper()
	return jinjaVar.ReplaceAllStringFunc(s, func(m string) string {
		name := jinjaVar.FindStringSubmatch(m)[1]
		if name == "concierge_domain" {
			return testDomain
		}
		return groupVar(t, name)
	})
}

// yamlValue finds `key: value` (the first one after the line matching
// after, if given) in a file and returns the value without quotes.
func yamlValue(t testing.TB, path, after, key string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	if after != "" {
		i := strings.Index(s, after)
		if i < 0 {
			t.Fatalf("%s: no %q", path, after)
		}
		s = s[i:]
	}
	m := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(key) + `:\s*(.*?)\s*$`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%s: no %s", path, key)
	}
	return strings.Trim(m[1], `"`)
}

func loadDeployment(t testing.TB) *deployment {
	t.Helper()
	d := &deployment{env: map[string]string{}}
	// The platform role's stack environment (vars/main.yml, platform_stack_env).
	vars, err := os.ReadFile("../../ansible/roles/platform/vars/main.yml")
	if err != nil {
		t.Fatal(err)
	}
	envBlock := string(vars[strings.Index(string(vars), "platform_stack_env:"):])
	for _, m := range regexp.MustCompile(`(?m)^  ([A-Z0-9_]+): "\{\{ ([a-z0-9_]+) \}\}"$`).FindAllStringSubmatch(envBlock, -1) {
		d.env[m[1]] = resolveJinja(t, "{{ "+m[2]+" }}")
	}
	for _, k := range []string{"DOMAIN", "STORAGE_PUBLIC_HOST", "CHATWOOT_STORAGE_BUCKET"} {
		if d.env[k] == "" {
			t.Fatalf("the platform role passes no %s to the stacks", k)
		}
	}
	// Values the stacks require that are not about routing.
	for _, k := range []string{"CONFIG_REV", "SEAWEEDFS_S3_CONFIG_SECRET", "CHATWOOT_MAILER_SENDER",
		"CHATWOOT_SECRET_KEY_BASE_SECRET", "POSTGRES_CHATWOOT_PASSWORD_SECRET", "REDIS_PASSWORD_SECRET",
		"CHATWOOT_STORAGE_ACCESS_KEY_SECRET", "CHATWOOT_STORAGE_SECRET_KEY_SECRET", "SMTP_PASSWORD_SECRET",
		"POSTGRES_KEYCLOAK_PASSWORD_SECRET", "KEYCLOAK_ADMIN_PASSWORD_SECRET", "OAUTH2_PROXY_CLIENT_SECRET_SECRET",
		"OAUTH2_PROXY_CONFIG_SECRET", "NETDATA_AGENT_STREAM_SECRET", "NETDATA_PARENT_STREAM_SECRET",
		"BASIC_AUTH_USER_SECRET", "BASIC_AUTH_PASSWORD_SECRET", "CLOUDFLARE_DNS_API_TOKEN_SECRET",
		"TRAEFIK_DYNAMIC_SECRET", "ACME_EMAIL"} {
		if _, ok := d.env[k]; !ok {
			d.env[k] = "ci-" + strings.ToLower(k)
		}
	}
	for _, f := range stackFiles {
		d.services = append(d.services, readServices(t, f, d.env)...)
	}
	for _, s := range readServices(t, stacksDir+"/traefik/stack.yml", d.env) {
		if s.name == "traefik" {
			d.traefikService = s
		}
	}
	chatwoot := stacksDir + "/chatwoot/stack.yml"
	d.storageEndpoint = expand(t, yamlValue(t, chatwoot, "x-chatwoot-env:", "STORAGE_ENDPOINT"), d.env)
	d.forcePathStyle = yamlValue(t, chatwoot, "x-chatwoot-env:", "STORAGE_FORCE_PATH_STYLE") == "true"
	d.bucket = expand(t, yamlValue(t, chatwoot, "x-chatwoot-env:", "STORAGE_BUCKET_NAME"), d.env)
	if svc := yamlValue(t, chatwoot, "x-chatwoot-env:", "ACTIVE_STORAGE_SERVICE"); svc != "s3_compatible" {
		t.Fatalf("Chatwoot's ACTIVE_STORAGE_SERVICE is %q; these tests are about s3_compatible", svc)
	}
	d.seaweedImage = yamlValue(t, stacksDir+"/seaweedfs/stack.yml", "  seaweedfs:", "image")

	// Traefik's dynamic file: middleware name -> type (the first key under it).
	dyn, err := os.ReadFile(stacksDir + "/../../templates/traefik-dynamic.yml.j2")
	if err != nil {
		t.Fatal(err)
	}
	d.fileMiddlewares = map[string]*middleware{}
	var cur *middleware
	inMW := false
	for _, line := range strings.Split(string(dyn), "\n") {
		switch {
		case line == "  middlewares:":
			inMW = true
		case inMW && len(line) > 0 && !strings.HasPrefix(line, "    ") && !strings.HasPrefix(strings.TrimSpace(line), "#"):
			inMW = false
		case inMW && regexp.MustCompile(`^    [a-z0-9-]+:$`).MatchString(line):
			n := strings.TrimSuffix(strings.TrimSpace(line), ":")
			cur = &middleware{name: n, opts: map[string]string{}}
			d.fileMiddlewares[n] = cur
		case inMW && cur != nil && cur.kind == "" && regexp.MustCompile(`^      [a-zA-Z]+:`).MatchString(line):
			cur.kind = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(line), ":"))
		case inMW && cur != nil && strings.HasPrefix(line, "        ") && strings.Contains(line, ":"):
			k := strings.ToLower(strings.TrimSpace(strings.SplitN(line, ":", 2)[0]))
			cur.opts[k] = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
		}
	}
	// Entrypoint middlewares from Traefik's command line.
	raw, err := os.ReadFile(stacksDir + "/traefik/stack.yml")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`--entrypoints\.websecure\.http\.middlewares=(\S+)`).FindSubmatch(raw); m != nil {
		d.entrypointMWs = splitList(string(m[1]))
	}

	// stt's VOICE_DOWNLOAD_HOSTS: stack.yml, with what the openfaas role's
	// faas-cli deploy passes (tasks/functions.yml).
	fnEnv := map[string]string{}
	tasks, err := os.ReadFile("../../ansible/roles/openfaas/tasks/functions.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^    ([A-Z0-9_]+): "(.*)"$`).FindAllStringSubmatch(string(tasks), -1) {
		fnEnv[m[1]] = resolveJinja(t, m[2])
	}
	hosts := yamlValue(t, "../../stack.yml", "\n  stt:", "VOICE_DOWNLOAD_HOSTS")
	d.voiceDownloadHosts = strings.FieldsFunc(expand(t, hosts, fnEnv), func(r rune) bool { return r == ',' || r == ' ' })
	return d
}

// filesRouter is the router that serves the storage endpoint's host.
func filesRouter(t testing.TB, tr *traefik, host string) *router {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "https://"+host+"/chatwoot/some-key", nil)
	rt := tr.route(req)
	if rt == nil {
		t.Fatalf("no Traefik router serves %s", host)
	}
	return rt
}

// TestFilesRoute checks the configuration: Chatwoot's endpoint is the public
// host, a TLS router on websecure serves it from SeaweedFS's S3 port with the
// Host header passed on, and nothing on the way rewrites host or path.
func TestFilesRoute(t *testing.T) {
	d := loadDeployment(t)
	host := d.env["STORAGE_PUBLIC_HOST"]
	if host != "files."+testDomain {
		t.Errorf("STORAGE_PUBLIC_HOST = %q, want files.<domain>", host)
	}
	if d.storageEndpoint != "https://"+host {
		t.Errorf("Chatwoot's STORAGE_ENDPOINT = %q, want https://%s: links are presigned for the endpoint's host", d.storageEndpoint, host)
	}
	if !d.forcePathStyle {
		t.Error("STORAGE_FORCE_PATH_STYLE must be true: a bucket sub-domain (chatwoot.files.<domain>) has no DNS record or certificate")
	}
	tr := newTraefik(t, d.services, d.fileMiddlewares, d.entrypointMWs)
	rt := filesRouter(t, tr, host)
	if rt.owner.id() != "seaweedfs_seaweedfs" {
		t.Errorf("%s is routed to %s, want seaweedfs_seaweedfs", host, rt.owner.id())
	}
	if !contains(rt.entrypoints, "websecure") {
		t.Errorf("router %s is not on websecure (TLS), entrypoints %v", rt.name, rt.entrypoints)
	}
	if strings.Contains(rt.rule, "Path") {
		t.Errorf("router %s's rule %q looks at the path: the whole path is the bucket and key, route on the host only", rt.name, rt.rule)
	}
	svc := tr.services[rt.service]
	if svc == nil || svc.port != "8333" {
		t.Fatalf("router %s's service %v does not reach SeaweedFS's S3 port 8333", rt.name, svc)
	}
	if !svc.passHostHeader {
		t.Errorf("service %s sets passHostHeader=false: SeaweedFS would check the signature against its own address", svc.name)
	}
	for _, m := range tr.chain(t, rt) {
		if rewritingMiddlewares[m.kind] {
			t.Errorf("middleware %s (%s) on the files route rewrites the path under the signature", m.name, m.kind)
		} else if !knownMiddlewares[m.kind] {
			t.Errorf("middleware %s (%s) on the files route is not known to leave host and path alone", m.name, m.kind)
		}
		if m.kind == "headers" {
			for k := range m.opts {
				if strings.HasPrefix(k, "customrequestheaders") {
					t.Errorf("middleware %s sets request headers on the files route (%s)", m.name, k)
				}
			}
		}
	}
	// Traefik must share the network it reaches SeaweedFS on.
	network := rt.owner.labels["traefik.swarm.network"]
	if network == "" {
		network = "traefik-public"
	}
	if !contains(rt.owner.networks, network) || !contains(d.traefikService.networks, network) {
		t.Errorf("SeaweedFS (%v) and Traefik (%v) do not share the network %s", rt.owner.networks, d.traefikService.networks, network)
	}
	if network == "traefik-public" {
		t.Error("SeaweedFS on traefik-public would open its master, volume and filer ports to every public service")
	}
	// SeaweedFS 3.86-3.91 sign over X-Forwarded-Host plus X-Forwarded-Port
	// (443 behind Traefik) and refuse every presigned link (seaweedfs #6884).
	tag := d.seaweedImage[strings.LastIndexByte(d.seaweedImage, ':')+1:]
	if major, minor, ok := strings.Cut(tag, "."); ok && major == "3" {
		if n, err := strconv.Atoi(minor); err == nil && n >= 86 && n <= 91 {
			t.Errorf("SeaweedFS %s adds X-Forwarded-Port to the signed host; pin 3.80-3.85 or 3.92+", tag)
		}
	}
	// stt downloads a data_url on Chatwoot's public host, which redirects to
	// the storage host; both are allowed.
	for _, h := range []string{"chatwoot." + testDomain, host} {
		if !contains(d.voiceDownloadHosts, h) {
			t.Errorf("stt's VOICE_DOWNLOAD_HOSTS %v lacks %s", d.voiceDownloadHosts, h)
		}
	}
	// Terraform creates the DNS record.
	tf, err := os.ReadFile("../../terraform/variables.tf")
	if err != nil {
		t.Fatal(err)
	}
	dns := regexp.MustCompile(`(?s)variable "dns_names" \{.*?default\s*=\s*\[([^\]]*)\]`).FindSubmatch(tf)
	if dns == nil || !strings.Contains(string(dns[1]), `"files"`) {
		t.Error(`terraform's dns_names default lacks "files"`)
	}
}

// testCert is a self-signed certificate for the public hosts, standing in
// for Traefik's Let's Encrypt certificate.
func testCert(t testing.TB, hosts ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// edge is the model of Traefik listening on :443 of the public hosts, with
// its backends: the S3 server as seaweedfs_seaweedfs and a stand-in for
// Chatwoot's blob redirect as chatwoot_web.
type edge struct {
	tr     *traefik
	client *http.Client
	// backendRequests: what reached the S3 server (host, forwarded host).
	mu   sync.Mutex
	seen []*http.Request
	// redirectTo is where Chatwoot's blob redirect points.
	redirectTo string
}

func startEdge(t *testing.T, d *deployment, services []swarmService, s3URL string) *edge {
	t.Helper()
	e := &edge{tr: newTraefik(t, services, d.fileMiddlewares, d.entrypointMWs)}
	backend, err := url.Parse(s3URL)
	if err != nil {
		t.Fatal(err)
	}
	e.tr.backends["seaweedfs_seaweedfs"] = backend
	e.tr.seen = func(r *http.Request) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.seen = append(e.seen, r.Clone(context.Background()))
	}
	// Chatwoot: GET /rails/active_storage/blobs/redirect/... answers 302 to
	// the presigned service URL, as ActiveStorage does in redirect mode.
	chatwoot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/rails/active_storage/blobs/redirect/") || e.redirectTo == "" {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, e.redirectTo, http.StatusFound)
	}))
	t.Cleanup(chatwoot.Close)
	cw, _ := url.Parse(chatwoot.URL)
	e.tr.backends["chatwoot_web"] = cw

	cert, pool := testCert(t, d.env["STORAGE_PUBLIC_HOST"], "chatwoot."+testDomain)
	srv := httptest.NewUnstartedServer(e.tr.handler(t))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	// Every public host resolves to Traefik (DNS points them at the ingress).
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	e.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			if !strings.HasSuffix(a, ":443") {
				return nil, errors.New("only the public hosts on :443 are reachable: " + a)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	return e
}

// chatwootS3 is an S3 client configured as Chatwoot's s3_compatible service.
func chatwootS3(d *deployment, hc *http.Client) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(d.storageEndpoint),
		UsePathStyle: d.forcePathStyle,
		// versitygw answers for region "auto"; SeaweedFS takes any region
		// (the stack's us-east-1). The region is not part of the route.
		Region:      "auto",
		Credentials: aws.NewCredentialsCache(credentials()),
		HTTPClient:  hc,
	})
}

type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey, Source: "test"}, nil
}

func credentials() aws.CredentialsProvider { return staticCreds{} }

// voiceNote is what a guest's voice message looks like to ActiveStorage: a
// random key and a file name with spaces and non-ASCII characters, which
// the presigned response-content-disposition carries (with ";" and quotes).
const (
	voiceKey         = "k7x2m9q4v8w1z5n3b6c0d2f4g6h8"
	voiceDisposition = `inline; filename="Sprachnachricht Gäste.ogg"; filename*=UTF-8''Sprachnachricht%20G%C3%A4ste.ogg`
)

var voiceBytes = []byte("OggS\x00\x02 not really opus, but bytes all the same")

// upload stores the voice note as Chatwoot does: PutObject through the
// public host, signed in the Authorization header (payload hash included).
func upload(t *testing.T, ctx context.Context, cli *s3.Client, bucket string) {
	t.Helper()
	_, err := cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(voiceKey),
		Body: bytes.NewReader(voiceBytes), ContentType: aws.String("audio/ogg")})
	if err != nil {
		t.Fatalf("PutObject through https://%s: %v", strings.TrimPrefix(*cli.Options().BaseEndpoint, "https://"), err)
	}
}

// presign signs a GET for the voice note for 5 minutes (ActiveStorage's
// service_urls_expire_in), with the response overrides Rails adds.
func presign(t *testing.T, ctx context.Context, cli *s3.Client, bucket string) string {
	t.Helper()
	req, err := s3.NewPresignClient(cli).PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(voiceKey),
		ResponseContentDisposition: aws.String(voiceDisposition),
		ResponseContentType:        aws.String("audio/ogg"),
	}, s3.WithPresignExpires(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return req.URL
}

func get(t *testing.T, hc *http.Client, method, u string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// TestPresignedLinksThroughTraefik: an upload and presigned links for the
// public host go through the configured route to a real S3 server and come
// back with the object; the way stt fetches a voice note (Chatwoot's blob
// redirect, then the storage host) works too.
func TestPresignedLinksThroughTraefik(t *testing.T) {
	d := loadDeployment(t)
	srv := s3test.Start(t)
	srv.AWS(t, "s3api", "create-bucket", "--bucket", d.bucket)
	e := startEdge(t, d, d.services, srv.Endpoint)
	ctx := context.Background()
	cli := chatwootS3(d, e.client)
	upload(t, ctx, cli, d.bucket)

	link := presign(t, ctx, cli, d.bucket)
	u, _ := url.Parse(link)
	if u.Host != d.env["STORAGE_PUBLIC_HOST"] || u.Path != "/"+d.bucket+"/"+voiceKey {
		t.Fatalf("presigned link %s: want https://%s/%s/%s", link, d.env["STORAGE_PUBLIC_HOST"], d.bucket, voiceKey)
	}
	if !strings.Contains(u.RawQuery, "X-Amz-SignedHeaders=host") {
		t.Fatalf("presigned link signs %s, want the host", u.Query().Get("X-Amz-SignedHeaders"))
	}

	t.Run("browser", func(t *testing.T) {
		res, body := get(t, e.client, http.MethodGet, link)
		if res.StatusCode != http.StatusOK || !bytes.Equal(body, voiceBytes) {
			t.Fatalf("GET presigned link: %s %q", res.Status, body)
		}
		if got := res.Header.Get("Content-Disposition"); got != voiceDisposition {
			t.Errorf("Content-Disposition = %q, want %q", got, voiceDisposition)
		}
		if got := res.Header.Get("Content-Type"); got != "audio/ogg" {
			t.Errorf("Content-Type = %q, want audio/ogg", got)
		}
		// What SeaweedFS 3.80 signs over: X-Forwarded-Host when set, else
		// the Host header (weed/s3api/auth_signature_v4.go, extractSignedHeaders).
		e.mu.Lock()
		last := e.seen[len(e.seen)-1]
		e.mu.Unlock()
		if last.Host != u.Host {
			t.Errorf("the S3 server saw Host %q, the link was signed for %q", last.Host, u.Host)
		}
		if fh := last.Header.Get("X-Forwarded-Host"); fh != "" && fh != u.Host {
			t.Errorf("X-Forwarded-Host %q differs from the signed host %q", fh, u.Host)
		}
	})

	t.Run("head", func(t *testing.T) {
		req, err := s3.NewPresignClient(cli).PresignHeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(voiceKey)})
		if err != nil {
			t.Fatal(err)
		}
		res, _ := get(t, e.client, http.MethodHead, req.URL)
		if res.StatusCode != http.StatusOK || res.ContentLength != int64(len(voiceBytes)) {
			t.Fatalf("HEAD presigned link: %s, %d bytes", res.Status, res.ContentLength)
		}
	})

	t.Run("stt follows Chatwoot's redirect", func(t *testing.T) {
		e.redirectTo = link
		dataURL := "https://chatwoot." + testDomain + "/rails/active_storage/blobs/redirect/eyJfcmFpbHMiOnt9--0a1b2c/voice.ogg"
		if !contains(d.voiceDownloadHosts, "chatwoot."+testDomain) {
			t.Fatalf("stt would refuse the data_url host; VOICE_DOWNLOAD_HOSTS %v", d.voiceDownloadHosts)
		}
		hc := voice.NewHTTPClient(30 * time.Second)
		hc.Transport = e.client.Transport
		res, body := get(t, hc, http.MethodGet, dataURL)
		if res.StatusCode != http.StatusOK || !bytes.Equal(body, voiceBytes) {
			t.Fatalf("GET %s (redirected to the storage host): %s %q", dataURL, res.Status, body)
		}
		if res.Request.URL.Host != d.env["STORAGE_PUBLIC_HOST"] {
			t.Errorf("the download ended on %s, want the storage host", res.Request.URL.Host)
		}
	})

	t.Run("a changed link is refused", func(t *testing.T) {
		// The check is real: the same link for another key fails.
		res, _ := get(t, e.client, http.MethodGet, strings.Replace(link, voiceKey, voiceKey[:len(voiceKey)-1]+"x", 1))
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("a presigned link edited to another key: %s, want 403", res.Status)
		}
	})
}

// TestPresignedLinksBreakWhenTheRouteRewrites is the control: the same
// flow through routes that pass another Host or change the path fails, so
// the test above would catch such a route.
func TestPresignedLinksBreakWhenTheRouteRewrites(t *testing.T) {
	d := loadDeployment(t)
	srv := s3test.Start(t)
	srv.AWS(t, "s3api", "create-bucket", "--bucket", d.bucket)
	ctx := context.Background()
	host := d.env["STORAGE_PUBLIC_HOST"]

	// A working route, for the upload and the links.
	good := startEdge(t, d, d.services, srv.Endpoint)
	cli := chatwootS3(d, good.client)
	upload(t, ctx, cli, d.bucket)
	link := presign(t, ctx, cli, d.bucket)

	variants := map[string]func(labels map[string]string){
		"passHostHeader=false": func(l map[string]string) {
			l["traefik.http.services.files.loadbalancer.passhostheader"] = "false"
		},
		"a path prefix added": func(l map[string]string) {
			l["traefik.http.routers.files.middlewares"] = "s3-prefix"
			l["traefik.http.middlewares.s3-prefix.addprefix.prefix"] = "/s3"
		},
		"the bucket stripped": func(l map[string]string) {
			l["traefik.http.routers.files.middlewares"] = "bucket"
			l["traefik.http.middlewares.bucket.stripprefix.prefixes"] = "/" + d.bucket
		},
	}
	for name, mutate := range variants {
		t.Run(name, func(t *testing.T) {
			var services []swarmService
			for _, s := range d.services {
				if s.id() == "seaweedfs_seaweedfs" {
					labels := map[string]string{}
					for k, v := range s.labels {
						labels[k] = v
					}
					mutate(labels)
					s.labels = labels
				}
				services = append(services, s)
			}
			bad := startEdge(t, d, services, srv.Endpoint)
			res, body := get(t, bad.client, http.MethodGet, link)
			// 403 SignatureDoesNotMatch, or a 4xx for a bucket or key that
			// is not the one signed: never the object.
			if res.StatusCode < 400 || res.StatusCode >= 500 || bytes.Equal(body, voiceBytes) {
				t.Fatalf("GET through a route with %s: %s %q; the signature should not hold", name, res.Status, body)
			}
			t.Logf("route with %s: %s", name, res.Status)
			// The static check flags it too.
			rt := filesRouter(t, bad.tr, host)
			svc := bad.tr.services[rt.service]
			rewrites := !svc.passHostHeader
			for _, m := range bad.tr.chain(t, rt) {
				rewrites = rewrites || rewritingMiddlewares[m.kind]
			}
			if !rewrites {
				t.Errorf("TestFilesRoute's checks would not flag a route with %s", name)
			}
		})
	}
}
