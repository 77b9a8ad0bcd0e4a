#!/usr/bin/env python3
"""The edge's rules, read from the stack files and the rendered Traefik
dynamic file (.ci/infra-check, check_edge; docs/high-availability.md).

    edge_check.py REPO RENDERED_DIR

RENDERED_DIR holds what .ci/tools/traefik/render.yml writes for both edge
modes (cloudflare, direct). For each mode the routers, services and
middlewares are read from the `traefik.*` deploy labels of every stack (with
the variables the platform role passes), the entrypoint middlewares from
Traefik's command line, the file middlewares from the dynamic file; requests
are then routed through a small model of Traefik's rule matching (Host,
Path, PathPrefix, PathRegexp, !, &&, ||, parentheses; priority = the label or
the rule's length) and the chain each one would pass is checked:

  - every public webhook route (the providers' hooks, any other public
    function, /healthz) passes a rateLimit middleware, the three providers'
    each their own, sized as docs/high-availability.md says;
  - behind Cloudflare every websecure route passes cloudflare-only, an
    ipAllowList of exactly Cloudflare's ranges (the Terraform default, the
    role default); without it, of everything;
  - no route serves /admin or /realms/master of auth.DOMAIN without the
    administrators' ipAllowList, and the staff realm's pages stay public;
  - Chatwoot's /app, /super_admin and /auth/sign_in pass the Keycloak gate;
  - the console host goes to oauth2-proxy, which proxies /function/console/;
  - the availability settings: Traefik on every manager, two gateways, two
    Chatwoot web and worker replicas, two oauth2-proxies, three NATS members
    pinned to different labels;
  - PostgreSQL TLS: ssl=on on both members, every client verify-full.

Exits 1 with one line per problem.
"""

import os
import re
import sys

import yaml

REPO, RENDERED = sys.argv[1], sys.argv[2]
PLATFORM = os.path.join(REPO, "ansible/roles/platform")
STACKS = {
    "traefik": f"{PLATFORM}/files/stacks/traefik/stack.yml",
    "sso": f"{PLATFORM}/files/stacks/sso/stack.yml",
    "chatwoot": f"{PLATFORM}/files/stacks/chatwoot/stack.yml",
    "netdata": f"{PLATFORM}/files/stacks/netdata/stack.yml",
    "seaweedfs": f"{PLATFORM}/files/stacks/seaweedfs/stack.yml",
    "data": f"{PLATFORM}/files/stacks/data/stack.yml",
    "openfaas": os.path.join(REPO, "ansible/roles/openfaas/files/stacks/openfaas/stack.yml"),
}
DOMAIN = "example.com"
PROVIDER_HOOKS = {"llm-query": "ratelimit-chatwoot-bot", "aircall-hook": "ratelimit-aircall", "guesty-hook": "ratelimit-guesty"}
problems = []


def problem(msg):
    problems.append(msg)


# --- stack files -------------------------------------------------------------

VAR = re.compile(r"\$\$|\$\{([A-Za-z0-9_]+)(?:(:-|:\?|-|\?)([^}]*))?\}")


def expand(value, env):
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1), m.group(2), m.group(3)
        v = env.get(name)
        if op in (":-", "-"):
            return v if v else (arg or "")
        if v is None:
            return f"ci_{name.lower()}"
        return v
    return VAR.sub(sub, value)


def load_stack(name, env):
    raw = open(STACKS[name]).read()
    return yaml.safe_load(expand(raw, env))


def read_env(mode):
    env = {}
    for line in open(os.path.join(RENDERED, f"stack-env-{mode}.env")):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            env[k] = v
    return env


# --- the model of Traefik's routing ------------------------------------------

class Rule:
    def __init__(self, text):
        self.s, self.i = text, 0
        self.fn = self.orexpr()
        self.ws()
        if self.i != len(self.s):
            raise ValueError(f"unexpected {self.s[self.i:]!r} in {text!r}")

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \n\t":
            self.i += 1

    def eat(self, tok):
        self.ws()
        if self.s.startswith(tok, self.i):
            self.i += len(tok)
            return True
        return False

    def orexpr(self):
        left = self.andexpr()
        while self.eat("||"):
            l, r = left, self.andexpr()
            left = lambda h, p, l=l, r=r: l(h, p) or r(h, p)
        return left

    def andexpr(self):
        left = self.unary()
        while self.eat("&&"):
            l, r = left, self.unary()
            left = lambda h, p, l=l, r=r: l(h, p) and r(h, p)
        return left

    def unary(self):
        if self.eat("!"):
            inner = self.unary()
            return lambda h, p: not inner(h, p)
        if self.eat("("):
            inner = self.orexpr()
            if not self.eat(")"):
                raise ValueError(f"missing ) in {self.s!r}")
            return inner
        self.ws()
        m = re.compile(r"([A-Za-z]+)\(`([^`]*)`\)").match(self.s, self.i)
        if not m:
            raise ValueError(f"cannot read a matcher at {self.s[self.i:]!r}")
        self.i = m.end()
        kind, arg = m.group(1), m.group(2)
        if kind == "Host":
            return lambda h, p: h.lower() == arg.lower()
        if kind == "Path":
            return lambda h, p: p == arg
        if kind == "PathPrefix":
            return lambda h, p: p.startswith(arg)
        if kind == "PathRegexp":
            rx = re.compile(arg)
            return lambda h, p: rx.search(p) is not None
        raise ValueError(f"matcher {kind} is not in the model")


def collect(env, dynamic):
    routers, services, middlewares = {}, {}, {}
    for n, m in (dynamic.get("http", {}).get("middlewares") or {}).items():
        kind = next(iter(m))
        middlewares[f"{n}@file"] = (kind, m[kind])
    stacks = {}
    for stack in STACKS:
        doc = load_stack(stack, env)
        stacks[stack] = doc
        for svc, spec in (doc.get("services") or {}).items():
            labels = ((spec.get("deploy") or {}).get("labels")) or {}
            if str(labels.get("traefik.enable")) != "true":
                continue
            own_services = []
            for k, v in labels.items():
                parts = k.split(".")
                if len(parts) < 5 or parts[1] != "http":
                    continue
                kind, name, key = parts[2], parts[3], ".".join(parts[4:])
                if kind == "routers":
                    r = routers.setdefault(name, {"owner": f"{stack}_{svc}", "middlewares": [], "priority": 0})
                    if key == "rule":
                        r["rule"] = " ".join(str(v).split())
                    elif key == "middlewares":
                        r["middlewares"] = [x.strip() for x in str(v).split(",") if x.strip()]
                    elif key == "priority":
                        r["priority"] = int(v)
                    else:
                        r[key] = v
                elif kind == "services":
                    services[name] = f"{stack}_{svc}"
                    own_services.append(name)
                elif kind == "middlewares":
                    mw = middlewares.setdefault(f"{name}@swarm", (parts[4].lower(), {}))
                    mw[1][".".join(parts[5:])] = v
            for r in routers.values():
                if r["owner"] == f"{stack}_{svc}" and "service" not in r and len(set(own_services)) == 1:
                    r["service"] = own_services[0]
    for name, r in routers.items():
        r["name"] = name
        r["match"] = Rule(r["rule"]).fn
        if not r["priority"]:
            r["priority"] = len(r["rule"])
    ordered = sorted(routers.values(), key=lambda r: -r["priority"])
    return ordered, services, middlewares, stacks


def route(routers, host, path):
    for r in routers:
        if r["match"](host, path):
            return r
    return None


def qualify(name):
    return name if "@" in name else f"{name}@swarm"


# --- the checks --------------------------------------------------------------

terraform_vars = open(os.path.join(REPO, "terraform/variables.tf")).read()
block = terraform_vars[terraform_vars.index('variable "cloudflare_ip_ranges"'):]
block = block[:block.index("\n}\n")]
tf_ranges = re.findall(r'"([0-9a-fA-F:.]+/[0-9]+)"', block)
role_defaults = yaml.safe_load(open(f"{PLATFORM}/defaults/main.yml"))
if tf_ranges != role_defaults["cloudflare_ip_ranges"]:
    problem("terraform's cloudflare_ip_ranges default and roles/platform/defaults cloudflare_ip_ranges differ")
group_vars = yaml.safe_load(open(os.path.join(REPO, "ansible/group_vars/all/main.yml")))
limits = group_vars["webhook_rate_limits"]
if limits != role_defaults["webhook_rate_limits"]:
    problem("webhook_rate_limits differ between group_vars and roles/platform/defaults")

for mode in ("cloudflare", "direct"):
    env = read_env(mode)
    dynamic = yaml.safe_load(open(os.path.join(RENDERED, f"traefik-dynamic-{mode}.yml")))
    routers, services, middlewares, stacks = collect(env, dynamic)
    traefik = stacks["traefik"]["services"]["traefik"]
    command = traefik["command"]
    entry = next((c.split("=", 1)[1] for c in command if c.startswith("--entrypoints.websecure.http.middlewares=")), "")
    entry_mws = [x for x in entry.split(",") if x]

    def chain(r):
        out = []
        for n in entry_mws + r["middlewares"]:
            mw = middlewares.get(qualify(n))
            if mw is None:
                problem(f"[{mode}] router {r['name']} uses middleware {n}, which nothing defines")
                continue
            out.append((qualify(n), mw))
        return out

    def kinds(r):
        return [(n, mw[0]) for n, mw in chain(r)]

    # Every route is on websecure and passes cloudflare-only first.
    cf = middlewares.get("cloudflare-only@file")
    if entry_mws[:1] != ["cloudflare-only@file"] or cf is None or cf[0] != "ipAllowList":
        problem(f"[{mode}] websecure's first entrypoint middleware must be cloudflare-only@file (an ipAllowList), got {entry_mws}")
    else:
        want = role_defaults["cloudflare_ip_ranges"] if mode == "cloudflare" else ["0.0.0.0/0", "::/0"]
        if cf[1].get("sourceRange") != want:
            problem(f"[{mode}] cloudflare-only admits {cf[1].get('sourceRange')}, want {want}")
        if cf[1].get("ipStrategy"):
            problem(f"[{mode}] cloudflare-only must judge the TCP peer (the PROXY protocol's client), not a header")
    for r in routers:
        if r.get("entrypoints") != "websecure":
            problem(f"[{mode}] router {r['name']} is not on websecure only ({r.get('entrypoints')})")
    trusted = next((c.split("=", 1)[1] for c in command if c.startswith("--entrypoints.websecure.forwardedHeaders.trustedIPs=")), "")
    want_trusted = ",".join(role_defaults["cloudflare_ip_ranges"]) if mode == "cloudflare" else "127.0.0.1/32"
    if trusted != want_trusted:
        problem(f"[{mode}] X-Forwarded-For is trusted from {trusted[:60]}..., want {want_trusted[:60]}...")
    for ep in ("web", "websecure", "ping"):
        if f"--entrypoints.{ep}.proxyProtocol.trustedIPs=10.10.1.5" not in command:
            problem(f"[{mode}] entrypoint {ep} must take the PROXY protocol from the load balancer (10.10.1.5) only")
    deploy = traefik["deploy"]
    if deploy.get("mode") != "global" or "node.role == manager" not in deploy["placement"]["constraints"]:
        problem(f"[{mode}] Traefik must run on every manager (mode global, node.role == manager)")
    if not any(p.get("published") == 8082 and p.get("mode") == "host" for p in traefik["ports"]):
        problem(f"[{mode}] Traefik's ping entrypoint :8082 is not published on the host for the load balancer")

    # Public webhook routes: each with its rate limit.
    gw = f"gateway.{DOMAIN}"
    depth = {"ipStrategy": {"depth": 1 if mode == "cloudflare" else 0}}
    for fn, limiter in PROVIDER_HOOKS.items():
        for path in (f"/function/{fn}", f"/function/{fn}/"):
            r = route(routers, gw, path)
            if r is None or services.get(r.get("service")) != "openfaas_gateway":
                problem(f"[{mode}] {gw}{path} does not reach the gateway")
                continue
            names = [n for n, k in kinds(r) if k == "rateLimit"]
            if names != [f"{limiter}@file"]:
                problem(f"[{mode}] {gw}{path} (router {r['name']}) passes rate limits {names}, want {limiter}@file")
        rl = middlewares.get(f"{limiter}@file")
        if rl:
            if rl[1].get("average") != limits[fn]["average"] or rl[1].get("burst") != limits[fn]["burst"]:
                problem(f"[{mode}] {limiter} is {rl[1]}, want webhook_rate_limits[{fn}] {limits[fn]}")
            if rl[1].get("period") != "1s" or rl[1].get("sourceCriterion") != depth:
                problem(f"[{mode}] {limiter}: want period 1s and sourceCriterion {depth}, got {rl[1]}")
    for path in ("/healthz", "/function/some-other-public-fn"):
        r = route(routers, gw, path)
        if r is not None and not any(k == "rateLimit" for _, k in kinds(r)):
            problem(f"[{mode}] public route {gw}{path} (router {r['name']}) has no rate limit")
    if route(routers, gw, "/healthz") is None:
        problem(f"[{mode}] {gw}/healthz is not routed")
    for path in ("/function/backup", "/function/redrive", "/async-function/llm-query"):
        if route(routers, gw, path) is not None:
            problem(f"[{mode}] {gw}{path} is routed; only the public functions may be")
    for r in routers:
        if "gateway." in r["rule"] and "sso@swarm" not in r["middlewares"] and not any(k == "rateLimit" for _, k in kinds(r)):
            problem(f"[{mode}] router {r['name']} on the gateway is public and has no rate limit")

    # Keycloak: admin console and master realm only for the administrators.
    auth = f"auth.{DOMAIN}"
    admin_mw = middlewares.get("keycloak-admin-sources@file")
    for path in ("/admin", "/admin/", "/admin/master/console/", "/admin/realms/concierge/users",
                 "/realms/master", "/realms/master/protocol/openid-connect/auth"):
        r = route(routers, auth, path)
        if r is None:
            continue
        gated = [n for n, k in kinds(r) if n == "keycloak-admin-sources@file" and k == "ipAllowList"]
        if not gated:
            problem(f"[{mode}] {auth}{path} is served by router {r['name']} without keycloak-admin-sources")
    if admin_mw is None or "127.0.0.1/32" in admin_mw[1].get("sourceRange", []) or admin_mw[1].get("ipStrategy") != depth["ipStrategy"]:
        problem(f"[{mode}] keycloak-admin-sources must admit the administrators' ranges by the client address: {admin_mw}")
    for path in ("/realms/concierge/protocol/openid-connect/auth", "/resources/x/login/keycloak.v2/css/styles.css"):
        r = route(routers, auth, path)
        if r is None or services.get(r.get("service")) != "sso_keycloak" or any(k == "ipAllowList" and n != "cloudflare-only@file" for n, k in kinds(r)):
            problem(f"[{mode}] {auth}{path} must reach Keycloak for everyone (router {r and r['name']})")
    r = route(routers, auth, "/oauth2/callback")
    if r is None or services.get(r.get("service")) != "sso_oauth2-proxy":
        problem(f"[{mode}] {auth}/oauth2/callback must reach oauth2-proxy")

    # Chatwoot's staff paths behind the Keycloak gate; widget and API not.
    cw = f"chatwoot.{DOMAIN}"
    for path in ("/app", "/app/accounts/1/settings/agents", "/super_admin", "/super_admin/sign_in", "/auth/sign_in"):
        r = route(routers, cw, path)
        if r is None or "sso@swarm" not in r["middlewares"]:
            problem(f"[{mode}] {cw}{path} is not behind the Keycloak gate (router {r and r['name']})")
    for path in ("/api/v1/widget/messages", "/packs/js/sdk.js", "/rails/active_storage/blobs/redirect/x/y", "/cable"):
        r = route(routers, cw, path)
        if r is None or "sso@swarm" in r["middlewares"]:
            problem(f"[{mode}] {cw}{path} must stay public (router {r and r['name']})")

    # The console: oauth2-proxy proxies it, / goes to the function's path.
    r = route(routers, f"console.{DOMAIN}", "/function/console/")
    if r is None or services.get(r.get("service")) != "sso_oauth2-proxy":
        problem(f"[{mode}] console.{DOMAIN} must be served by oauth2-proxy")
    elif "console-home@file" not in r["middlewares"]:
        problem(f"[{mode}] console.{DOMAIN}/ must redirect to /function/console/ (console-home)")

    # Availability.
    of = stacks["openfaas"]["services"]
    gwd = of["gateway"]["deploy"]
    if gwd.get("replicas") != 2 or gwd.get("placement", {}).get("max_replicas_per_node") != 1:
        problem(f"[{mode}] the gateway must run twice, on different nodes")
    members = {n: of[n] for n in ("nats", "nats-2", "nats-3") if n in of}
    labels = {n: tuple(m["deploy"]["placement"]["constraints"]) for n, m in members.items()}
    if len(members) != 3 or len(set(labels.values())) != 3:
        problem(f"[{mode}] NATS Streaming needs three members pinned to three labels: {labels}")
    cwd = stacks["chatwoot"]["services"]
    for svc, key in (("web", "chatwoot_web_replicas"), ("sidekiq", "chatwoot_worker_replicas")):
        if str(cwd[svc]["deploy"]["replicas"]) not in ("2", "${CHATWOOT_WEB_REPLICAS:-2}") and group_vars.get(key) != 2:
            problem(f"[{mode}] Chatwoot {svc} must have 2 replicas")
    if group_vars.get("chatwoot_web_replicas", 0) < 2 or group_vars.get("chatwoot_worker_replicas", 0) < 2:
        problem(f"[{mode}] group_vars must keep two Chatwoot web and worker replicas")
    if stacks["sso"]["services"]["oauth2-proxy"]["deploy"].get("replicas") != 2:
        problem(f"[{mode}] oauth2-proxy must run twice")

# PostgreSQL TLS, once (not per mode).
data = yaml.safe_load(expand(open(STACKS["data"]).read(), {}))["services"]
for member in ("postgres", "postgres-standby"):
    cmd = " ".join(data[member]["command"])
    for want in ("ssl=on", "ssl_cert_file=/run/secrets/postgres-tls.crt", "ssl_key_file=/run/secrets/postgres-tls.key", "sslmode=verify-full"):
        if want not in cmd:
            problem(f"data {member}: no {want}")
    if data[member]["environment"].get("PGSSLMODE") != "verify-full":
        problem(f"data {member}: its own libpq connections (to the peer) must verify the server (PGSSLMODE)")
for exp in ("pg-exporter", "pg-standby-exporter"):
    if "sslmode=verify-full" not in data[exp]["environment"]["DATA_SOURCE_URI"]:
        problem(f"data {exp}: DATA_SOURCE_URI without sslmode=verify-full")
if data["setup"]["environment"].get("PGSSLMODE") != "verify-full":
    problem("data setup: PGSSLMODE is not verify-full")
sso = yaml.safe_load(expand(open(STACKS["sso"]).read(), {}))["services"]
if "sslmode=verify-full" not in sso["keycloak"]["environment"]["KC_DB_URL"]:
    problem("Keycloak's KC_DB_URL does not verify the server (sslmode=verify-full)")
cwdoc = yaml.safe_load(expand(open(STACKS["chatwoot"]).read(), {}))
if cwdoc["x-chatwoot-env"].get("PGSSLMODE") != "verify-full":
    problem("Chatwoot's PGSSLMODE is not verify-full")
for key in ("concierge_database_url", "concierge_database_readonly_url"):
    url = group_vars[key] + group_vars["concierge_database_tls"]
    if "sslmode=verify-full" not in url or "sslrootcert=/var/openfaas/secrets/postgres-ca" not in url \
            or "{{ concierge_database_tls }}" not in group_vars[key]:
        problem(f"group_vars {key} must end in concierge_database_tls (sslmode=verify-full, sslrootcert)")
if "postgres-ca" not in group_vars["openfaas_function_secrets"]:
    problem("the function secret postgres-ca (the CA of database-url's sslrootcert) is not created")
functions = yaml.safe_load(open(os.path.join(REPO, "stack.yml")))["functions"]
for fn, spec in functions.items():
    secrets = spec.get("secrets") or []
    if "database-url" in secrets and "postgres-ca" not in secrets:
        problem(f"stack.yml: {fn} reads database-url but does not mount postgres-ca (its sslrootcert)")
for root, _, files in os.walk(os.path.join(REPO, "ansible")):
    for f in files:
        if f.endswith((".yml", ".j2", ".sh")):
            if "sslmode=disable" in open(os.path.join(root, f), errors="replace").read():
                problem(f"{os.path.relpath(os.path.join(root, f), REPO)}: sslmode=disable")

for p in problems:
    print("edge:", p)
if not problems:
    print("edge: ok (routes, rate limits, Cloudflare-only, Keycloak admin, staff gate, console, replicas, PostgreSQL TLS)")
sys.exit(1 if problems else 0)
