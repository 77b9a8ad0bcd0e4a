// Command rehearse is the Go side of .ci/rehearse (make rehearse): it renders
// the rehearsal's copy of the Ansible OpenFaaS stack with the changes this
// machine forces (printed, one line each), and sends signed provider
// deliveries through the real gateway.
//
//	rehearse stack -in stack.yml -out rehearsal.yml -docker-sock /tmp/x/docker.sock [-drop alert-bridge]
//	rehearse send -gateway http://127.0.0.1:8080 -kind aircall|guesty -fixture FILE -secret S [-id ID]
//	rehearse post URL JSON   (inside the swarm: a POST, "STATUS BODY" printed)
//	rehearse get URL         (inside the swarm: the body printed)
//	rehearse load -gateway URL -kind aircall|guesty -fixture FILE -secret S [-rate R] [-count N|-stop FILE]
//	         (distinct signed deliveries under way, each retried until acknowledged; a JSON summary)
//	rehearse ship -dockerfile template/X/Dockerfile -base IMAGE -out Dockerfile [-run-out FILE]
//	         (the template's final stage as the rehearsal builds it, see ship.go)
//	rehearse buildargs -stack stack.yml   ("function NAME=VALUE" lines)
//	rehearse fnstack -in stack.yml -out COPY [-reason R] NAME=VALUE...  (functions' environment changed, printed)
//	rehearse botevent -fixture F -conversation N -message M [-content T] [-audio URL]
//	rehearse chatwoot [-listen :3000]  (the project's fake Chatwoot as a Swarm service, see chatwoot.go)
//	rehearse realm -issuer URL [-listen :8080]  (the console's Keycloak realm: JWKS and signed tokens, see realm.go)
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/harborstays/concierge/lib/guesty/guestytest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rehearse stack|send|post|get|load|chatwoot|realm|ship|buildargs|botevent|fnstack ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "stack":
		err = stack(os.Args[2:])
	case "send":
		err = send(os.Args[2:])
	case "post":
		err = post(os.Args[2:])
	case "get":
		err = get(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	case "chatwoot":
		err = chatwoot(os.Args[2:])
	case "ship":
		err = ship(os.Args[2:])
	case "fnstack":
		err = fnstack(os.Args[2:])
	case "botevent":
		err = botevent(os.Args[2:])
	case "buildargs":
		err = buildargs(os.Args[2:])
	case "realm":
		err = realm(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rehearse %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// stack rewrites the production stack for a single-node Swarm without IPVS
// and with a private dockerd. Every change is printed; nothing else changes.
func stack(args []string) error {
	fs := flag.NewFlagSet("stack", flag.ExitOnError)
	in := fs.String("in", "", "the Ansible stack file")
	out := fs.String("out", "", "where to write the rehearsal stack file")
	sock := fs.String("docker-sock", "", "the private dockerd's socket (bind-mounted instead of /var/run/docker.sock)")
	publish := fs.Int("publish", 0, "host port for the gateway's published 8080 (0: as the stack says)")
	drop := fs.String("drop", "", "services to leave out, comma-separated, each with its reason after '=' (name=reason,...)")
	_ = fs.Parse(args)
	raw, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return err
	}
	services, _ := doc["services"].(map[string]any)
	if services == nil {
		return fmt.Errorf("%s has no services", *in)
	}
	change := func(svc, what string) { fmt.Printf("  %-16s %s\n", svc, what) }
	if *drop != "" {
		for _, d := range strings.Split(*drop, ",") {
			name, reason, _ := strings.Cut(d, "=")
			if _, ok := services[name]; !ok {
				return fmt.Errorf("-drop %s: no such service", name)
			}
			delete(services, name)
			change(name, "left out: "+reason)
		}
	}
	names := make([]string, 0, len(services))
	for n := range services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		svc := services[name].(map[string]any)
		deploy, _ := svc["deploy"].(map[string]any)
		if deploy == nil {
			deploy = map[string]any{}
			svc["deploy"] = deploy
		}
		old, _ := deploy["endpoint_mode"].(string)
		if old == "" {
			old = "vip"
		}
		if old != "dnsrr" {
			deploy["endpoint_mode"] = "dnsrr"
			change(name, fmt.Sprintf("deploy.endpoint_mode: %s -> dnsrr (no IPVS: service VIPs do not route)", old))
		}
		if ports, ok := svc["ports"].([]any); ok {
			for i, p := range ports {
				pm, ok := p.(map[string]any)
				if !ok {
					return fmt.Errorf("%s: ports[%d] is in short syntax; the rehearsal needs the long one", name, i)
				}
				if *publish != 0 && name == "gateway" && fmt.Sprint(pm["published"]) != fmt.Sprint(*publish) {
					change(name, fmt.Sprintf("ports[%d].published: %v -> %d (a free port on this shared machine)", i, pm["published"], *publish))
					pm["published"] = *publish
				}
				if pm["mode"] != "host" {
					change(name, fmt.Sprintf("ports[%d].mode: %v -> host (no ingress routing mesh without IPVS)", i, pm["mode"]))
					pm["mode"] = "host"
				}
			}
		}
		if vols, ok := svc["volumes"].([]any); ok && *sock != "" {
			for i, v := range vols {
				s, ok := v.(string)
				if ok && strings.HasPrefix(s, "/var/run/docker.sock:") {
					vols[i] = *sock + strings.TrimPrefix(s, "/var/run/docker.sock")
					change(name, fmt.Sprintf("volumes[%d]: /var/run/docker.sock -> %s (the rehearsal's private dockerd)", i, *sock))
				}
			}
		}
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	header := fmt.Sprintf("# Generated by .ci/tools/rehearse from %s for the rehearsal only.\n", *in)
	return os.WriteFile(*out, append([]byte(header), b...), 0o644)
}

// send posts a provider fixture through the gateway the way the provider
// signs it, and prints "STATUS BODY".
func send(args []string) error {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	gw := fs.String("gateway", "http://127.0.0.1:8080", "gateway URL")
	kind := fs.String("kind", "", "aircall or guesty")
	fixture := fs.String("fixture", "", "the delivery's JSON")
	secret := fs.String("secret", "", "aircall: the webhook token put in the body; guesty: the whsec_ secret")
	id := fs.String("id", fmt.Sprintf("msg_rehearsal_%d", time.Now().UnixNano()), "guesty: the svix-id")
	_ = fs.Parse(args)
	body, err := os.ReadFile(*fixture)
	if err != nil {
		return err
	}
	var header http.Header
	var fn string
	switch *kind {
	case "aircall":
		fn = "aircall-hook"
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return err
		}
		m["token"] = *secret
		m["timestamp"] = time.Now().Unix()
		if body, err = json.Marshal(m); err != nil {
			return err
		}
		header = http.Header{"Content-Type": {"application/json"}}
	case "guesty":
		fn = "guesty-hook"
		header = guestytest.Sign(*secret, *id, time.Now(), body)
	default:
		return fmt.Errorf("-kind %q: want aircall or guesty", *kind)
	}
	req, err := http.NewRequest(http.MethodPost, *gw+"/function/"+fn, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = header
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
	fmt.Printf("%d %s\n", res.StatusCode, strings.TrimSpace(string(rb)))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", fn, res.Status)
	}
	return nil
}

// post sends a JSON body to a URL and prints "STATUS BODY"; the rehearsal
// runs it in a container on the functions network to reach services that
// publish no port (Alertmanager).
func post(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: rehearse post URL JSON")
	}
	var err error
	for i := 0; i < 30; i++ { // the service's name resolves once its task runs
		var res *http.Response
		res, err = (&http.Client{Timeout: 10 * time.Second}).Post(args[0], "application/json", strings.NewReader(args[1]))
		if err == nil {
			rb, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
			res.Body.Close()
			fmt.Printf("%d %s\n", res.StatusCode, strings.TrimSpace(string(rb)))
			if res.StatusCode/100 != 2 {
				return fmt.Errorf("%s answered %s", args[0], res.Status)
			}
			return nil
		}
		time.Sleep(time.Second)
	}
	return err
}

// get prints the body of a GET of URL (retrying while the name does not
// resolve yet); non-2xx is an error.
func get(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: rehearse get URL")
	}
	var err error
	for i := 0; i < 30; i++ {
		var res *http.Response
		res, err = (&http.Client{Timeout: 10 * time.Second}).Get(args[0])
		if err == nil {
			defer res.Body.Close()
			if _, err := io.Copy(os.Stdout, res.Body); err != nil {
				return err
			}
			if res.StatusCode/100 != 2 {
				return fmt.Errorf("%s answered %s", args[0], res.Status)
			}
			return nil
		}
		time.Sleep(time.Second)
	}
	return err
}

// buildargs prints each function's build_args of a faas-cli stack file,
// one "function NAME=VALUE" line each, sorted.
func buildargs(args []string) error {
	fs := flag.NewFlagSet("buildargs", flag.ExitOnError)
	in := fs.String("stack", "stack.yml", "the stack file")
	_ = fs.Parse(args)
	raw, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	var doc struct {
		Functions map[string]struct {
			BuildArgs map[string]string `yaml:"build_args"`
		} `yaml:"functions"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return err
	}
	var lines []string
	for fn, f := range doc.Functions {
		for k, v := range f.BuildArgs {
			lines = append(lines, fmt.Sprintf("%s %s=%s", fn, k, v))
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	return nil
}
