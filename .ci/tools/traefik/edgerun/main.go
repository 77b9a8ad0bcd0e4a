// Command edgerun loads the platform's Traefik configuration into a real
// Traefik (the version the traefik stack pins, built by .ci/tools/traefik/run)
// and sends requests through it, on loopback only.
//
//	edgerun -traefik BIN -repo DIR -rendered DIR -mode cloudflare|direct
//
// The static configuration is the traefik stack's command line with what a
// test machine cannot have taken out (the Swarm provider, Let's Encrypt) and
// the addresses moved to loopback ports; the load balancer's address becomes
// 127.0.0.1, so requests arrive as the load balancer sends them, with a
// PROXY protocol header naming the client. The routers, services and the
// forward-auth middleware of the stack files' `traefik.*` labels become a
// file-provider file beside the rendered dynamic file
// (.ci/tools/traefik/render.yml), each Swarm service played by a local
// backend that names itself. Then:
//
//   - Traefik's API lists every router and middleware as enabled;
//   - each public webhook route reaches the gateway and answers 429 with
//     Retry-After once its client has spent the burst, while another client
//     is still served (and a forged X-Forwarded-For does not change the
//     client behind Cloudflare);
//   - behind Cloudflare a client that is not a Cloudflare edge gets 403;
//   - Keycloak's /admin and /realms/master answer 403 except to the
//     administrators' ranges, the staff realm's pages reach Keycloak;
//   - Chatwoot's staff paths stop at the forward-auth (oauth2-proxy),
//     the widget API does not; console.DOMAIN/ redirects to the console's
//     path, served by oauth2-proxy; files.DOMAIN keeps its path; other
//     functions are not routed.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

const domain = "example.com"

var failures []string

func fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	failures = append(failures, msg)
	fmt.Println("FAIL", msg)
}

// passed counts the failures already reported, so a group's "ok" line is
// printed only when none of its checks failed.
var passed int

func pass(format string, args ...any) {
	if len(failures) == passed {
		fmt.Println("ok  ", fmt.Sprintf(format, args...))
	}
	passed = len(failures)
}

func main() {
	traefikBin := flag.String("traefik", "", "the traefik binary")
	repo := flag.String("repo", ".", "the repository")
	rendered := flag.String("rendered", "", "the output of .ci/tools/traefik/render.yml")
	mode := flag.String("mode", "cloudflare", "cloudflare or direct")
	flag.Parse()
	if err := run(*traefikBin, *repo, *rendered, *mode); err != nil {
		fmt.Fprintln(os.Stderr, "edgerun:", err)
		os.Exit(2)
	}
	if len(failures) > 0 {
		fmt.Printf("edgerun [%s]: %d failed\n", *mode, len(failures))
		os.Exit(1)
	}
	fmt.Printf("edgerun [%s]: ok\n", *mode)
}

// --- the stack files ----------------------------------------------------------

var varRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z0-9_]+)(?:(:-|:\?|-|\?)([^}]*))?\}`)

func expand(s string, env map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		g := varRef.FindStringSubmatch(m)
		v, ok := env[g[1]]
		if (g[2] == ":-" || g[2] == "-") && v == "" {
			return g[3]
		}
		if !ok {
			return "ci_" + strings.ToLower(g[1])
		}
		return v
	})
}

type stackFile struct {
	Services map[string]struct {
		Command []string `yaml:"command"`
		Deploy  struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"deploy"`
	} `yaml:"services"`
}

func readEnv(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

type router struct {
	Rule        string   `yaml:"rule"`
	EntryPoints []string `yaml:"entryPoints"`
	Service     string   `yaml:"service"`
	Middlewares []string `yaml:"middlewares,omitempty"`
	Priority    int      `yaml:"priority,omitempty"`
	TLS         struct{} `yaml:"tls"`
}

// --- backends -----------------------------------------------------------------

type backends struct {
	mu   sync.Mutex
	addr map[string]string // Swarm service -> host:port
	seen map[string][]string
}

func (b *backends) start(owner string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if a, ok := b.addr[owner]; ok {
		return a, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.seen[owner] = append(b.seen[owner], r.URL.RequestURI())
		b.mu.Unlock()
		w.Header().Set("X-Backend", owner)
		// oauth2-proxy played as a signed-out session: the forward-auth
		// answer that stops a request.
		if owner == "sso_oauth2-proxy" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, owner)
	})}
	go func() { _ = srv.Serve(ln) }()
	b.addr[owner] = ln.Addr().String()
	return b.addr[owner], nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// --- run -----------------------------------------------------------------------

func run(traefikBin, repo, rendered, mode string) error {
	env, err := readEnv(filepath.Join(rendered, "stack-env-"+mode+".env"))
	if err != nil {
		return err
	}
	platform := filepath.Join(repo, "ansible/roles/platform/files/stacks")
	files := map[string]string{
		"seaweedfs": platform + "/seaweedfs/stack.yml",
		"chatwoot":  platform + "/chatwoot/stack.yml",
		"sso":       platform + "/sso/stack.yml",
		"netdata":   platform + "/netdata/stack.yml",
		"traefik":   platform + "/traefik/stack.yml",
		"openfaas":  filepath.Join(repo, "ansible/roles/openfaas/files/stacks/openfaas/stack.yml"),
	}
	be := &backends{addr: map[string]string{}, seen: map[string][]string{}}
	routers := map[string]*router{}
	services := map[string]any{}
	middlewares := map[string]any{}
	var traefikCommand []string
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, stack := range names {
		raw, err := os.ReadFile(files[stack])
		if err != nil {
			return err
		}
		var doc stackFile
		if err := yaml.Unmarshal([]byte(expand(string(raw), env)), &doc); err != nil {
			return fmt.Errorf("%s: %w", files[stack], err)
		}
		for svc, spec := range doc.Services {
			owner := stack + "_" + svc
			if owner == "traefik_traefik" {
				traefikCommand = spec.Command
			}
			labels := spec.Deploy.Labels
			if labels["traefik.enable"] != "true" {
				continue
			}
			var own []string
			for k, v := range labels {
				parts := strings.Split(k, ".")
				if len(parts) < 5 || parts[1] != "http" {
					continue
				}
				name, key := parts[3], strings.ToLower(strings.Join(parts[4:], "."))
				switch parts[2] {
				case "routers":
					r := routers[name]
					if r == nil {
						r = &router{}
						routers[name] = r
					}
					switch key {
					case "rule":
						r.Rule = strings.Join(strings.Fields(v), " ")
					case "entrypoints":
						r.EntryPoints = strings.Split(v, ",")
					case "service":
						r.Service = v
					case "middlewares":
						for _, m := range strings.Split(v, ",") {
							m = strings.TrimSpace(m)
							r.Middlewares = append(r.Middlewares, strings.Replace(m, "@swarm", "@file", 1))
						}
					case "priority":
						r.Priority, _ = strconv.Atoi(v)
					default:
						return fmt.Errorf("router option %s is not converted", k)
					}
				case "services":
					own = append(own, name)
					if key != "loadbalancer.server.port" && key != "loadbalancer.passhostheader" {
						return fmt.Errorf("service option %s is not converted", k)
					}
					if key == "loadbalancer.server.port" {
						addr, err := be.start(owner)
						if err != nil {
							return err
						}
						services[name] = map[string]any{"loadBalancer": map[string]any{
							"passHostHeader": true, "servers": []map[string]string{{"url": "http://" + addr}}}}
					}
				case "middlewares":
					if strings.ToLower(parts[4]) != "forwardauth" {
						return fmt.Errorf("middleware type %s (label %s) is not converted", parts[4], k)
					}
					m, _ := middlewares[name].(map[string]any)
					if m == nil {
						m = map[string]any{}
						middlewares[name] = map[string]any{"forwardAuth": m}
					} else {
						m = m["forwardAuth"].(map[string]any)
					}
					switch key {
					case "forwardauth.address":
						// http://sso_oauth2-proxy:4180/ -> the local oauth2-proxy.
						addr, err := be.start("sso_oauth2-proxy")
						if err != nil {
							return err
						}
						m["address"] = regexp.MustCompile(`^http://[^/]+`).ReplaceAllString(v, "http://"+addr)
					case "forwardauth.trustforwardheader":
						m["trustForwardHeader"] = v == "true"
					case "forwardauth.authresponseheaders":
						m["authResponseHeaders"] = strings.Split(v, ",")
					default:
						return fmt.Errorf("forwardauth option %s is not converted", key)
					}
				}
			}
			for _, r := range routers {
				if r.Service == "" && len(own) == 1 {
					r.Service = own[0]
				}
			}
		}
	}
	if traefikCommand == nil {
		return fmt.Errorf("no traefik service in the traefik stack")
	}

	dir, err := os.MkdirTemp("", "edgerun")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dyn, err := os.ReadFile(filepath.Join(rendered, "traefik-dynamic-"+mode+".yml"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "dynamic.yml"), dyn, 0o600); err != nil {
		return err
	}
	labelsDoc := map[string]any{"http": map[string]any{"routers": routers, "services": services, "middlewares": middlewares}}
	out, err := yaml.Marshal(labelsDoc)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "labels.yml"), out, 0o600); err != nil {
		return err
	}

	// The static configuration: the stack's, on loopback.
	ports := map[string]int{}
	for _, ep := range []string{"web", "websecure", "ping", "traefik"} {
		if ports[ep], err = freePort(); err != nil {
			return err
		}
	}
	var args []string
	for _, a := range traefikCommand {
		switch {
		case strings.HasPrefix(a, "--providers.swarm."), strings.HasPrefix(a, "--certificatesresolvers."),
			strings.HasPrefix(a, "--entrypoints.websecure.http.tls."):
			continue // no Swarm, no Let's Encrypt here
		case strings.HasPrefix(a, "--providers.file.filename="):
			args = append(args, "--providers.file.directory="+dir)
		case strings.HasPrefix(a, "--entrypoints.") && strings.Contains(a, ".address="):
			ep := strings.Split(a, ".")[1]
			if _, ok := ports[ep]; !ok {
				return fmt.Errorf("entrypoint %s is not in the test's list", ep)
			}
			args = append(args, fmt.Sprintf("--entrypoints.%s.address=127.0.0.1:%d", ep, ports[ep]))
		case strings.Contains(a, ".proxyProtocol.trustedIPs="):
			if v := strings.SplitN(a, "=", 2)[1]; v != env["TRAEFIK_PROXY_TRUSTED"] {
				fail("%s: want the load balancer's address %s", a, env["TRAEFIK_PROXY_TRUSTED"])
			}
			args = append(args, strings.SplitN(a, "=", 2)[0]+"=127.0.0.1/32")
		default:
			args = append(args, a)
		}
	}
	args = append(args, "--entrypoints.websecure.http.tls=true",
		fmt.Sprintf("--entrypoints.traefik.address=127.0.0.1:%d", ports["traefik"]), "--api.insecure=true",
		// The module proxy's source has no built web UI.
		"--api.dashboard=false",
		"--log.level=INFO", "--log.nocolor=true", "--providers.file.watch=false")

	// The stack's command line as it is (Swarm provider, Let's Encrypt and
	// all): Traefik must accept every flag; it may only complain that there
	// is no Docker here.
	if err := staticFlags(traefikBin, traefikCommand, filepath.Join(rendered, "traefik-dynamic-"+mode+".yml")); err != nil {
		fail("[%s] the traefik stack's command line: %v", mode, err)
	} else {
		pass("[%s] Traefik accepts the stack's whole command line", mode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, traefikBin, args...)
	logs, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var logMu sync.Mutex
	var logLines []string
	go func() {
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			logMu.Lock()
			logLines = append(logLines, sc.Text())
			logMu.Unlock()
		}
	}()

	// Up: the load balancer's health check.
	up := false
	for i := 0; i < 100 && !up; i++ {
		res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/ping", ports["ping"]))
		if err == nil {
			up = res.StatusCode == 200
			res.Body.Close()
		}
		if !up {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if !up {
		logMu.Lock()
		defer logMu.Unlock()
		return fmt.Errorf("traefik did not answer on its ping entrypoint:\n%s", strings.Join(logLines, "\n"))
	}
	pass("[%s] Traefik %s up; the load balancer's health check (ping entrypoint) answers 200", mode, filepath.Base(traefikBin))

	// Everything loaded and enabled (the file provider's configuration is
	// applied a moment after the entrypoints answer: wait for it, 10 s at most).
	api := fmt.Sprintf("http://127.0.0.1:%d/api/http/", ports["traefik"])
	var dynDoc struct {
		HTTP struct {
			Middlewares map[string]any `yaml:"middlewares"`
		} `yaml:"http"`
	}
	if err := yaml.Unmarshal(dyn, &dynDoc); err != nil {
		return err
	}
	wants := map[string][]string{}
	for n := range routers {
		wants["routers"] = append(wants["routers"], n+"@file")
	}
	for n := range dynDoc.HTTP.Middlewares {
		wants["middlewares"] = append(wants["middlewares"], n+"@file")
	}
	for n := range middlewares {
		wants["middlewares"] = append(wants["middlewares"], n+"@file")
	}
	for n := range services {
		wants["services"] = append(wants["services"], n+"@file")
	}
	for _, kind := range []string{"routers", "middlewares", "services"} {
		type item struct {
			Name   string   `json:"name"`
			Status string   `json:"status"`
			Error  []string `json:"error"`
		}
		var missing []string
		var items []item
		for attempt := 0; attempt < 50; attempt++ {
			items = nil
			res, err := http.Get(api + kind + "?per_page=500")
			if err != nil {
				return err
			}
			err = json.NewDecoder(res.Body).Decode(&items)
			res.Body.Close()
			if err != nil {
				return fmt.Errorf("api %s: %w", kind, err)
			}
			got := map[string]bool{}
			for _, it := range items {
				got[it.Name] = true
			}
			missing = missing[:0]
			for _, n := range wants[kind] {
				if !got[n] {
					missing = append(missing, n)
				}
			}
			if len(missing) == 0 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		for _, n := range missing {
			fail("[%s] Traefik did not load %s %s", mode, kind, n)
		}
		for _, it := range items {
			if it.Status != "enabled" || len(it.Error) > 0 {
				fail("[%s] %s %s is %s: %v", mode, kind, it.Name, it.Status, it.Error)
			}
		}
		pass("[%s] Traefik loaded all %d %s, each enabled", mode, len(wants[kind]), kind)
	}

	check(mode, ports["websecure"], routers)

	logMu.Lock()
	defer logMu.Unlock()
	for _, l := range logLines {
		if strings.Contains(l, " ERR ") || strings.Contains(l, "level=error") {
			fail("[%s] Traefik logged an error: %s", mode, l)
		}
	}
	return nil
}

// staticFlags starts Traefik for 3 s with the stack's command, ports moved to
// free loopback ones, the Docker socket and the ACME storage to nowhere, and
// reports what Traefik says about its configuration.
func staticFlags(bin string, command []string, dynamicFile string) error {
	dir, err := os.MkdirTemp("", "edgeflags")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var args []string
	for _, a := range command {
		switch {
		case strings.HasPrefix(a, "--providers.swarm.endpoint="):
			a = "--providers.swarm.endpoint=unix://" + dir + "/no-docker.sock"
		case strings.HasPrefix(a, "--providers.file.filename="):
			a = "--providers.file.filename=" + dynamicFile
		case strings.HasPrefix(a, "--certificatesresolvers.letsencrypt.acme.storage="):
			a = "--certificatesresolvers.letsencrypt.acme.storage=" + dir + "/acme.json"
		case strings.HasPrefix(a, "--entrypoints.") && strings.Contains(a, ".address="):
			p, err := freePort()
			if err != nil {
				return err
			}
			a = fmt.Sprintf("%s=127.0.0.1:%d", strings.SplitN(a, "=", 2)[0], p)
		}
		args = append(args, a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, append(args, "--log.nocolor=true")...).CombinedOutput()
	var bad []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, " ERR ") && !strings.Contains(l, "Docker daemon") && !strings.Contains(l, "providerName=swarm") {
			bad = append(bad, l)
		}
		if strings.Contains(l, "command traefik error") || strings.Contains(l, "flag provided but not defined") {
			bad = append(bad, l)
		}
	}
	if !strings.Contains(string(out), "Starting provider *docker.SwarmProvider") {
		bad = append(bad, "the Swarm provider did not start: "+string(out))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// --- requests --------------------------------------------------------------------

// client sends requests as the load balancer delivers them: a PROXY protocol
// v1 header naming src, then TLS for host. Keep-alive, so a burst is quick.
func client(port int, src string) *http.Client {
	family := "TCP4"
	if strings.Contains(src, ":") {
		family = "TCP6"
	}
	dst := "127.0.0.1"
	if family == "TCP6" {
		dst = "::1"
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				return nil, err
			}
			_, err = fmt.Fprintf(c, "PROXY %s %s %s 40000 443\r\n", family, src, dst)
			return c, err
		},
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // Traefik's default certificate, loopback
		MaxIdleConnsPerHost: 8,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// flood sends as one client from 8 connections at once until Traefik answers
// 429 (returned) or 30 s pass: faster than any limit here refills, even on a
// busy machine. It returns the 429 and how many requests it took.
func flood(c *http.Client, host, path string, h map[string]string) (*answer, int) {
	var (
		mu      sync.Mutex
		limited *answer
		sent    int
		wg      sync.WaitGroup
	)
	deadline := time.Now().Add(30 * time.Second)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				mu.Lock()
				done := limited != nil || sent >= 20000
				sent++
				mu.Unlock()
				if done {
					return
				}
				r := do(c, "POST", host, path, h)
				if r.status == http.StatusTooManyRequests {
					mu.Lock()
					if limited == nil {
						limited = &r
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return limited, sent
}

type answer struct {
	status  int
	backend string
	header  http.Header
}

func do(c *http.Client, method, host, path string, header map[string]string) answer {
	req, _ := http.NewRequest(method, "https://"+host+path, strings.NewReader("{}"))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		return answer{status: -1, backend: err.Error()}
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return answer{status: res.StatusCode, backend: res.Header.Get("X-Backend"), header: res.Header}
}

func check(mode string, port int, routers map[string]*router) {
	behindCF := mode == "cloudflare"
	edge := "173.245.48.10" // a Cloudflare edge
	// The client, as Traefik must find it: the last X-Forwarded-For entry
	// behind Cloudflare (which appends the address it saw), the PROXY
	// header's source without it.
	as := func(clientIP string) (*http.Client, map[string]string) {
		if behindCF {
			return client(port, edge), map[string]string{"X-Forwarded-For": clientIP}
		}
		return client(port, clientIP), map[string]string{}
	}
	gw, auth, cw := "gateway."+domain, "auth."+domain, "chatwoot."+domain

	// Cloudflare only.
	stranger := client(port, "198.51.100.7")
	a := do(stranger, "POST", gw, "/function/aircall-hook", nil)
	if behindCF && a.status != http.StatusForbidden {
		fail("[%s] a client that is not a Cloudflare edge got %d, want 403", mode, a.status)
	} else if !behindCF && a.backend != "openfaas_gateway" {
		fail("[%s] without Cloudflare a client must reach the gateway, got %d %s", mode, a.status, a.backend)
	} else {
		pass("[%s] a direct client (not Cloudflare) gets %d", mode, a.status)
	}

	// Webhook routes: the gateway, then 429 with Retry-After for a client
	// past its burst, while another client is still served.
	limits := map[string]int{"/function/llm-query": 300, "/function/aircall-hook": 200, "/function/guesty-hook": 300, "/healthz": 50}
	paths := make([]string, 0, len(limits))
	for p := range limits {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for i, path := range paths {
		ip := fmt.Sprintf("198.51.100.%d", 20+i)
		c, h := as(ip)
		first := do(c, "POST", gw, path, h)
		if first.backend != "openfaas_gateway" {
			fail("[%s] %s%s: %d from %q, want the gateway", mode, gw, path, first.status, first.backend)
			continue
		}
		limited, sent := flood(c, gw, path, h)
		if limited == nil {
			fail("[%s] %s%s: %d requests of one client in 30 s, no 429 (burst %d)", mode, gw, path, sent, limits[path])
			continue
		}
		ra, err := strconv.Atoi(limited.header.Get("Retry-After"))
		if err != nil || ra < 1 {
			fail("[%s] %s%s: 429 without a Retry-After in seconds (%q)", mode, gw, path, limited.header.Get("Retry-After"))
			continue
		}
		other, oh := as(fmt.Sprintf("198.51.100.%d", 120+i))
		if r := do(other, "POST", gw, path, oh); r.backend != "openfaas_gateway" {
			fail("[%s] %s%s: another client got %d after the first was limited", mode, gw, path, r.status)
			continue
		}
		if behindCF {
			// A forged X-Forwarded-For (Cloudflare appends the real client
			// after it): still the drained bucket, so 429 long before a
			// fresh client's burst.
			forged := map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d, %s", 200+i, ip)}
			if again, n := flood(c, gw, path, forged); again == nil || n > limits[path]/2 {
				fail("[%s] %s%s: with a forged X-Forwarded-For the client got %d requests through", mode, gw, path, n)
				continue
			}
		}
		pass("[%s] %s%s: the gateway, then 429 (Retry-After: %ds) after %d requests of one client; others still served", mode, gw, path, ra, sent)
	}
	for _, path := range []string{"/function/backup", "/function/redrive", "/function/llm-query/../backup"} {
		c, h := as("198.51.100.60")
		if r := do(c, "GET", gw, path, h); r.status != http.StatusNotFound {
			fail("[%s] %s%s: %d %s, want 404 (not routed)", mode, gw, path, r.status, r.backend)
		}
	}
	pass("[%s] other functions are not routed", mode)

	// Keycloak.
	admin, ah := as("203.0.113.10")
	other, oh := as("198.51.100.61")
	for _, path := range []string{"/admin/", "/admin/master/console/", "/admin/realms/concierge/users", "/realms/master/protocol/openid-connect/auth", "//admin/", "/realms/./master/account"} {
		if r := do(other, "GET", auth, path, oh); r.status != http.StatusForbidden {
			fail("[%s] %s%s from outside the administrators' ranges: %d %s, want 403", mode, auth, path, r.status, r.backend)
		}
		if r := do(admin, "GET", auth, path, ah); r.backend != "sso_keycloak" {
			fail("[%s] %s%s from an administrator: %d %s, want Keycloak", mode, auth, path, r.status, r.backend)
		}
	}
	if r := do(other, "GET", auth, "/realms/concierge/protocol/openid-connect/auth", oh); r.backend != "sso_keycloak" {
		fail("[%s] the staff realm's sign-in: %d %s, want Keycloak", mode, r.status, r.backend)
	}
	pass("[%s] Keycloak: /admin and /realms/master 403 except from the administrators' ranges; the staff realm public", mode)

	// Chatwoot's staff paths stop at the forward-auth.
	for _, path := range []string{"/app/login", "/super_admin", "/auth/sign_in"} {
		if r := do(other, "GET", cw, path, oh); r.status != http.StatusUnauthorized || r.backend == "chatwoot_web" {
			fail("[%s] %s%s: %d %s, want oauth2-proxy's answer", mode, cw, path, r.status, r.backend)
		}
	}
	if r := do(other, "GET", cw, "/api/v1/widget/config", oh); r.backend != "chatwoot_web" {
		fail("[%s] Chatwoot's widget API: %d %s, want Chatwoot", mode, r.status, r.backend)
	}
	pass("[%s] Chatwoot: /app, /super_admin, /auth/sign_in behind the gate; the widget API public", mode)

	// The console.
	if r := do(other, "GET", "console."+domain, "/", oh); r.status != http.StatusFound ||
		r.header.Get("Location") != "https://console."+domain+"/function/console/" {
		fail("[%s] console.%s/: %d Location %q", mode, domain, r.status, r.header.Get("Location"))
	}
	if r := do(other, "GET", "console."+domain, "/function/console/", oh); r.backend != "sso_oauth2-proxy" {
		fail("[%s] console.%s/function/console/: %d %s, want oauth2-proxy", mode, domain, r.status, r.backend)
	}
	pass("[%s] console: / redirects to /function/console/, served by oauth2-proxy", mode)

	// Files keep host and path.
	if r := do(other, "GET", "files."+domain, "/chatwoot/abc123?X-Amz-Signature=x", oh); r.backend != "seaweedfs_seaweedfs" {
		fail("[%s] files.%s: %d %s, want SeaweedFS", mode, domain, r.status, r.backend)
	}
	pass("[%s] files: SeaweedFS", mode)
	_ = routers
}
