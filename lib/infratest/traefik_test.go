package infratest

// A model of Traefik v3 (the traefik stack pins v3.6.12) built from the
// platform's stack files, as far as request routing and rewriting go:
//
//   - routers and services from `traefik.*` deploy labels (the swarm
//     provider), middlewares from labels and from the file provider
//     (templates/traefik-dynamic.yml.j2), entrypoint middlewares from the
//     traefik service's command line;
//   - rules: Host, Path, PathPrefix, PathRegexp with && || ! and
//     parentheses; priority = explicit label, else the rule's length;
//   - forwarding as Traefik's proxy does (pkg/proxy/httputil, directorBuilder
//     in v3.3): the path and raw path of the request URI as received, the
//     raw query with ";" turned into "&", the client's Host kept unless the
//     service sets passHostHeader=false, X-Forwarded-Host/-Proto/-Port set;
//   - the rewriting middlewares stripPrefix, stripPrefixRegex, addPrefix,
//     replacePath, replacePathRegex. A middleware type the model does not
//     know fails the test rather than being ignored.

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const stacksDir = "../../ansible/roles/platform/files/stacks"

// stackFiles are the stacks whose services carry Traefik labels.
var stackFiles = []string{
	stacksDir + "/seaweedfs/stack.yml",
	stacksDir + "/chatwoot/stack.yml",
	stacksDir + "/sso/stack.yml",
	stacksDir + "/netdata/stack.yml",
	"../../ansible/roles/openfaas/files/stacks/openfaas/stack.yml",
}

var varRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z0-9_]+)(?:(:-|:\?|-|\?)([^}]*))?\}`)

// expand substitutes ${VAR}, ${VAR:-default} and ${VAR:?message} as
// `docker stack deploy` does; a required variable missing from env fails.
func expand(t testing.TB, s string, env map[string]string) string {
	t.Helper()
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		g := varRef.FindStringSubmatch(m)
		v, ok := env[g[1]]
		switch g[2] {
		case ":-":
			if v == "" {
				return g[3]
			}
		case ":?":
			if v == "" {
				t.Fatalf("%s is required (%s) but the test sets no value", g[1], g[3])
			}
		default:
			if !ok {
				t.Fatalf("%s has no value in the test", g[1])
			}
		}
		return v
	})
}

// swarmService is one service of a stack file with its Traefik labels.
type swarmService struct {
	stack, name string
	labels      map[string]string
	networks    []string
}

// id is the service's Swarm name, what the model's backends are keyed by.
func (s swarmService) id() string { return s.stack + "_" + s.name }

var (
	serviceLine = regexp.MustCompile(`^  ([a-z0-9][a-z0-9_-]*):\s*$`)
	labelLine   = regexp.MustCompile(`^\s+(traefik\.[A-Za-z0-9_.-]+):\s*(.*?)\s*$`)
	listItem    = regexp.MustCompile(`^\s+-\s+(.+?)\s*$`)
)

// readServices reads the services of a stack file and their `traefik.*`
// labels (single-line values, or `>-` folded ones) with variables expanded.
// It reads lines, not YAML: the stack files keep one label per line.
func readServices(t testing.TB, path string, env map[string]string) []swarmService {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stack := strings.Split(strings.TrimPrefix(path, stacksDir+"/"), "/")[0]
	if strings.Contains(path, "/openfaas/") {
		stack = "openfaas"
	}
	lines := strings.Split(string(raw), "\n")
	var out []swarmService
	var cur *swarmService
	inServices, inNetworks := false, false
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case line == "services:":
			inServices = true
			continue
		case len(line) > 0 && line[0] != ' ' && line[0] != '#':
			inServices = false
			cur = nil
			continue
		}
		if !inServices {
			continue
		}
		if m := serviceLine.FindStringSubmatch(line); m != nil {
			out = append(out, swarmService{stack: stack, name: m[1], labels: map[string]string{}})
			cur = &out[len(out)-1]
			inNetworks = false
			continue
		}
		if cur == nil {
			continue
		}
		if strings.TrimSpace(line) == "networks:" && strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     ") {
			inNetworks = true
			continue
		}
		if inNetworks {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			if m := listItem.FindStringSubmatch(line); m != nil && strings.HasPrefix(line, "      -") {
				cur.networks = append(cur.networks, m[1])
				continue
			}
			inNetworks = false
		}
		m := labelLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v := m[2]
		if v == ">-" || v == ">" {
			indent := len(line) - len(strings.TrimLeft(line, " "))
			var parts []string
			for i+1 < len(lines) {
				next := lines[i+1]
				if strings.TrimSpace(next) == "" || len(next)-len(strings.TrimLeft(next, " ")) <= indent {
					break
				}
				parts = append(parts, strings.TrimSpace(next))
				i++
			}
			v = strings.Join(parts, " ")
		} else if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		cur.labels[m[1]] = expand(t, v, env)
	}
	return out
}

// router is a Traefik HTTP router.
type router struct {
	name, rule, service string
	entrypoints         []string
	middlewares         []string
	priority            int
	match               matcher
	owner               swarmService
}

// lbService is a Traefik service (load balancer onto one Swarm service).
type lbService struct {
	name           string
	port           string
	passHostHeader bool
	owner          swarmService
}

// middleware is a Traefik middleware: its type and options (lower-case keys).
type middleware struct {
	name, kind string
	opts       map[string]string
}

// traefik is the model.
type traefik struct {
	routers     []*router
	services    map[string]*lbService
	middlewares map[string]*middleware
	// entrypointMiddlewares apply to every router of websecure.
	entrypointMiddlewares []string
	// backends maps a Swarm service id (stack_service) to its address.
	backends map[string]*url.URL
	// seen, when set, receives every request as it leaves for a backend.
	seen func(*http.Request)
}

// newTraefik reads the routers, services and middlewares of services.
func newTraefik(t testing.TB, services []swarmService, fileMiddlewares map[string]*middleware, entrypointMiddlewares []string) *traefik {
	t.Helper()
	tr := &traefik{services: map[string]*lbService{}, middlewares: map[string]*middleware{}, backends: map[string]*url.URL{},
		entrypointMiddlewares: entrypointMiddlewares}
	for n, m := range fileMiddlewares {
		tr.middlewares[n+"@file"] = m
	}
	for _, s := range services {
		if s.labels["traefik.enable"] != "true" {
			continue
		}
		routers := map[string]*router{}
		own := map[string]*lbService{}
		for k, v := range s.labels {
			parts := strings.Split(k, ".")
			if len(parts) < 5 || parts[1] != "http" {
				continue
			}
			name, key := parts[3], strings.ToLower(strings.Join(parts[4:], "."))
			switch parts[2] {
			case "routers":
				r := routers[name]
				if r == nil {
					r = &router{name: name, owner: s}
					routers[name] = r
				}
				switch key {
				case "rule":
					r.rule = v
				case "service":
					r.service = v
				case "entrypoints":
					r.entrypoints = splitList(v)
				case "middlewares":
					r.middlewares = splitList(v)
				case "priority":
					p, err := strconv.Atoi(v)
					if err != nil {
						t.Fatalf("%s: %s: %v", s.id(), k, err)
					}
					r.priority = p
				case "tls", "tls.certresolver":
				default:
					t.Fatalf("%s: router option %s is not in the model", s.id(), k)
				}
			case "services":
				ls := own[name]
				if ls == nil {
					ls = &lbService{name: name, passHostHeader: true, owner: s}
					own[name] = ls
				}
				switch key {
				case "loadbalancer.server.port":
					ls.port = v
				case "loadbalancer.passhostheader":
					ls.passHostHeader = v == "true"
				default:
					t.Fatalf("%s: service option %s is not in the model", s.id(), k)
				}
			case "middlewares":
				m := tr.middlewares[name+"@swarm"]
				if m == nil {
					m = &middleware{name: name, opts: map[string]string{}}
					tr.middlewares[name+"@swarm"] = m
				}
				kind := strings.ToLower(parts[4])
				if m.kind != "" && m.kind != kind {
					t.Fatalf("middleware %s has two types: %s and %s", name, m.kind, kind)
				}
				m.kind = kind
				m.opts[strings.ToLower(strings.Join(parts[5:], "."))] = v
			}
		}
		for n, ls := range own {
			if _, dup := tr.services[n]; dup {
				t.Fatalf("Traefik service %s is defined twice", n)
			}
			tr.services[n] = ls
		}
		for _, r := range routers {
			if r.service == "" {
				// Traefik's rule: the one service of the same container.
				if len(own) != 1 {
					t.Fatalf("router %s names no service and %s defines %d", r.name, s.id(), len(own))
				}
				for n := range own {
					r.service = n
				}
			}
			if r.rule == "" {
				t.Fatalf("router %s has no rule", r.name)
			}
			m, err := parseRule(r.rule)
			if err != nil {
				t.Fatalf("router %s: rule %q: %v", r.name, r.rule, err)
			}
			r.match = m
			if r.priority == 0 {
				r.priority = len(r.rule)
			}
			tr.routers = append(tr.routers, r)
		}
	}
	sort.SliceStable(tr.routers, func(i, j int) bool { return tr.routers[i].priority > tr.routers[j].priority })
	return tr
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// qualify names a middleware the way a router on the swarm provider does.
func qualify(name string) string {
	if strings.Contains(name, "@") {
		return name
	}
	return name + "@swarm"
}

// route finds the router for r, or nil.
func (tr *traefik) route(r *http.Request) *router {
	for _, rt := range tr.routers {
		if len(rt.entrypoints) > 0 && !contains(rt.entrypoints, "websecure") {
			continue
		}
		if rt.match(r) {
			return rt
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// chain is every middleware a request through rt passes, in order.
func (tr *traefik) chain(t testing.TB, rt *router) []*middleware {
	t.Helper()
	var out []*middleware
	for _, n := range append(append([]string{}, tr.entrypointMiddlewares...), rt.middlewares...) {
		m := tr.middlewares[qualify(n)]
		if m == nil {
			t.Fatalf("router %s uses middleware %s, which no stack or dynamic file defines", rt.name, n)
		}
		out = append(out, m)
	}
	return out
}

// rewritingMiddlewares change the path (and so a SigV4 signature's
// canonical URI) on the way to the backend.
var rewritingMiddlewares = map[string]bool{
	"stripprefix": true, "stripprefixregex": true, "addprefix": true,
	"replacepath": true, "replacepathregex": true,
}

// knownMiddlewares leave host and path alone (headers: only when it sets
// no request headers, which the checks below look at).
var knownMiddlewares = map[string]bool{"headers": true, "buffering": true, "forwardauth": true, "ipallowlist": true}

// apply runs a middleware's effect on the request, as far as the model goes.
func (m *middleware) apply(t testing.TB, r *http.Request) {
	t.Helper()
	switch m.kind {
	case "stripprefix":
		for _, p := range splitList(m.opts["prefixes"]) {
			if strings.HasPrefix(r.URL.Path, p) {
				r.URL.Path = "/" + strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, p), "/")
				r.URL.RawPath = ""
				r.RequestURI = r.URL.RequestURI()
				return
			}
		}
	case "addprefix":
		r.URL.Path = m.opts["prefix"] + r.URL.Path
		r.URL.RawPath = ""
		r.RequestURI = r.URL.RequestURI()
	case "replacepath":
		r.URL.Path, r.URL.RawPath = m.opts["path"], ""
		r.RequestURI = r.URL.RequestURI()
	case "headers", "buffering", "forwardauth", "ipallowlist":
		// Response headers, body limits, an authorisation call, an address
		// allowlist: no change to what the backend signs over (forwardauth
		// is not followed here; the test's client stands for an admitted
		// address, a Cloudflare edge behind cloudflare-only).
	default:
		t.Fatalf("middleware %s of type %s is not in the model", m.name, m.kind)
	}
}

// handler is Traefik's websecure entrypoint in front of the model's backends.
func (tr *traefik) handler(t testing.TB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := tr.route(r)
		if rt == nil {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		svc := tr.services[rt.service]
		if svc == nil {
			t.Errorf("router %s names service %s, which no stack defines", rt.name, rt.service)
			http.Error(w, "no service", http.StatusBadGateway)
			return
		}
		backend := tr.backends[svc.owner.id()]
		if backend == nil {
			http.Error(w, "no backend for "+svc.owner.id(), http.StatusBadGateway)
			return
		}
		for _, m := range tr.chain(t, rt) {
			m.apply(t, r)
		}
		proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = backend.Scheme, backend.Host
			u := pr.In.URL
			if pr.In.RequestURI != "" {
				if parsed, err := url.ParseRequestURI(pr.In.RequestURI); err == nil {
					u = parsed
				}
			}
			pr.Out.URL.Path, pr.Out.URL.RawPath = u.Path, u.RawPath
			pr.Out.URL.RawQuery = strings.ReplaceAll(u.RawQuery, ";", "&")
			pr.Out.Host = pr.In.Host
			if !svc.passHostHeader {
				pr.Out.Host = backend.Host
			}
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Forwarded-Host", pr.In.Host)
			pr.Out.Header.Set("X-Forwarded-Proto", "https")
			pr.Out.Header.Set("X-Forwarded-Port", "443")
			if tr.seen != nil {
				tr.seen(pr.Out)
			}
		}}
		proxy.ServeHTTP(w, r)
	})
}

// matcher is a compiled rule.
type matcher func(*http.Request) bool

// parseRule compiles Traefik's rule syntax (v3): matchers combined with
// &&, ||, ! and parentheses.
func parseRule(rule string) (matcher, error) {
	p := &ruleParser{s: rule}
	m, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q", p.s[p.i:])
	}
	return m, nil
}

type ruleParser struct {
	s string
	i int
}

func (p *ruleParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\n' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *ruleParser) eat(tok string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *ruleParser) or() (matcher, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.eat("||") {
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(r *http.Request) bool { return l(r) || right(r) }
	}
	return left, nil
}

func (p *ruleParser) and() (matcher, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.eat("&&") {
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(r *http.Request) bool { return l(r) && right(r) }
	}
	return left, nil
}

func (p *ruleParser) unary() (matcher, error) {
	if p.eat("!") {
		m, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(r *http.Request) bool { return !m(r) }, nil
	}
	if p.eat("(") {
		m, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, fmt.Errorf("missing ) at %d", p.i)
		}
		return m, nil
	}
	p.space()
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] >= 'A' && p.s[p.i] <= 'Z' || p.s[p.i] >= 'a' && p.s[p.i] <= 'z') {
		p.i++
	}
	name := p.s[start:p.i]
	if !p.eat("(") {
		return nil, fmt.Errorf("expected ( after %q", name)
	}
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '`' {
		return nil, fmt.Errorf("%s: expected a `quoted` argument", name)
	}
	end := strings.IndexByte(p.s[p.i+1:], '`')
	if end < 0 {
		return nil, fmt.Errorf("%s: unterminated argument", name)
	}
	arg := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	if !p.eat(")") {
		return nil, fmt.Errorf("%s takes one argument", name)
	}
	switch name {
	case "Host":
		return func(r *http.Request) bool { return strings.EqualFold(hostOnly(r.Host), arg) }, nil
	case "Path":
		return func(r *http.Request) bool { return r.URL.Path == arg }, nil
	case "PathPrefix":
		return func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, arg) }, nil
	case "PathRegexp":
		re, err := regexp.Compile(arg)
		if err != nil {
			return nil, err
		}
		return func(r *http.Request) bool { return re.MatchString(r.URL.Path) }, nil
	}
	return nil, fmt.Errorf("matcher %s is not in the model", name)
}

func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		return h[:i]
	}
	return h
}
