# Concierge: `make run` starts the whole system locally, `make test` runs
# every test. See README.md.

SHELL     := /bin/bash
GO        ?= go
PORT      ?= 8080
FUZZTIME  ?= 30s
BIN       := bin
FUNCTIONS := $(notdir $(wildcard functions/*))
LDFLAGS   := -s -w

.PHONY: fresh-run edge rehearse rehearse-recovery restore replay reindex doctor import-guesty fake-guesty all run test unit fuzz-short fuzz bench mutate lint build deps clean shrinkwrap infra eval

all: build

deps:
	@.ci/deps

## run: the whole system on 127.0.0.1:$(PORT) on embedded defaults; installs only what
## running needs (.ci/deps --run: PostgreSQL, the speech engines), not the test tools
run:
	@.ci/deps --run
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/concierge ./cmd/concierge
	PORT=$(PORT) exec $(BIN)/concierge run

## test: every test (lint, unit and integration tests on a real PostgreSQL,
## short fuzz runs, the template build of every function, the infra checks)
test: deps lint unit fuzz-short shrinkwrap infra

# faas-cli build --shrinkwrap, then the Dockerfile's Go steps on every context.
shrinkwrap:
	.ci/shrinkwrap-check

# terraform fmt + tflint, ansible syntax check + ansible-lint, docker stack config;
# then terraform init/validate/plan against the real providers in a loopback-only
# network namespace (.ci/terraform-plan).
infra:
	.ci/infra-check
	.ci/terraform-plan

## fresh-run: `make run` on a fresh Debian (debootstrap chroot, cached) from a
## clean clone to the first /healthz 200, per phase, cold beside warm
## (docs/first-run.md). Root; about 10 min; not in make test
fresh-run:
	.ci/fresh-run

## edge: the infra checks with the edge loaded into a real Traefik (built
## from the module proxy once, 15-40 min on two cores, then cached)
edge:
	CONCIERGE_EDGE_TRAEFIK=1 .ci/infra-check

# Every Go test, summarised by .ci/tools/testjson: with CI set a skipped
# test fails the run (a missing tool must not turn a package green), and
# CONCIERGE_TEST_EXPECT_LOGS arms the log-leak guard's "no logs captured"
# check, so the leak check can never pass with nothing to scan.
unit:
	@mkdir -p $(BIN)
	@set -o pipefail; { CI=$${CI:-} CONCIERGE_TEST_EXPECT_LOGS=1 $(GO) test -count=1 -timeout 10m -json ./...; echo $$? > $(BIN)/unit.rc; } \
	  | (cd .ci/tools/testjson && $(GO) run . $${CI:+-fail-on-skip}) && test "$$(cat $(BIN)/unit.rc)" = 0

# Short fuzz runs seeded with the contract fixtures; `make fuzz` runs long.
fuzz-short:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./lib/aircall
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./lib/guesty

fuzz:
	$(MAKE) fuzz-short FUZZTIME=5m

## reindex: rebuild the retrieval index from PostgreSQL (DATABASE_URL, or the local cluster)
reindex:
	$(GO) run ./cmd/concierge reindex

## doctor: check every configured provider for real after a deploy (database, Qdrant, Azure
## Speech, R2, the model, Chatwoot, Aircall): one line each, non-zero exit on any failure;
## STACK=<stack file> (default ./stack.yml), JSON=1 for a JSON report
doctor:
	$(GO) run ./cmd/concierge doctor $(if $(STACK),--stack '$(STACK)') $(if $(JSON),--json)

## import-guesty: import the Guesty account through the Open API (active listings, reservations
## checking out from 30 days ago to a year ahead, their guests); resumable; DRY_RUN=1 prints what
## would change, RESTART=1 starts over; GUESTY_CLIENT_ID, GUESTY_CLIENT_SECRET, DATABASE_URL
## (else the local runner's cluster), GATEWAY_URL for the follow-up jobs
import-guesty:
	GATEWAY_URL=$${GATEWAY_URL:-http://127.0.0.1:$(PORT)} $(GO) run ./cmd/concierge guesty-import \
	  $(if $(DRY_RUN),--dry-run) $(if $(RESTART),--restart)

## fake-guesty: a fake Guesty Open API on 127.0.0.1:8091 holding the fixtures' account (LISTINGS=200
## RESERVATIONS=2000 add a generated one); export what it prints before make run / make import-guesty
fake-guesty:
	$(GO) run ./cmd/concierge fake-guesty $(if $(LISTINGS),--listings $(LISTINGS)) $(if $(RESERVATIONS),--reservations $(RESERVATIONS))

## replay: re-queue failed jobs and invoke them: make replay KIND=vectorize | ID=<uuid>[,<uuid>] | ALL=1
## (DRY_RUN=1 shows what would change); DATABASE_URL, or the local runner's cluster
replay:
	@test -n "$(KIND)$(ID)$(ALL)" || { echo "make replay KIND=<kind> | ID=<uuid>[,<uuid>] | ALL=1 [DRY_RUN=1]"; exit 2; }
	GATEWAY_URL=$${GATEWAY_URL:-http://127.0.0.1:$(PORT)} $(GO) run ./cmd/concierge replay \
	  $(if $(KIND),--kind '$(KIND)') $(if $(ID),--id '$(ID)') $(if $(ALL),--all-failed) $(if $(DRY_RUN),--dry-run)

## rehearse: the real OpenFaaS Swarm platform (../shared/openfaas-swarm) on a private dockerd and a
## single-node Swarm, the functions deployed with faas-cli, flows through it in a table; removes
## everything at the end (docs/rehearsal.md). Root; not part of `make test` yet.
rehearse:
	.ci/rehearse

## rehearse-recovery: lose a local production (runner + cluster), restore its newest verified
## backup onto a new cluster, answer a guest; prints the recovery time and point (docs/recovery.md)
rehearse-recovery:
	.ci/rehearse-recovery

## restore: list the backups (BACKUP_DIR or the R2 bucket) and the last proven restore
## of each database and of the attachments, or restore one into a new database:
## make restore BACKUP=latest|<key> INTO=<database> [DB=chatwoot]; OUT=<file> writes it
## out instead (DB=_globals: the roles); ATTACHMENTS=1 [BUCKET=<name>] puts the
## attachments back. DATABASE_URL, or the local runner's cluster (docs/recovery.md)
restore:
	@test -z "$(BACKUP)" -o -n "$(INTO)$(OUT)" || { echo "make restore BACKUP=latest|<key> INTO=<new database> [DB=<database>] (or OUT=<file>)"; exit 2; }
	$(GO) run ./cmd/concierge $(if $(ATTACHMENTS),restore -attachments $(if $(BUCKET),-bucket '$(BUCKET)'),$(if $(BACKUP),restore -backup '$(BACKUP)' $(if $(INTO),-into '$(INTO)') $(if $(OUT),-out '$(OUT)') $(if $(DB),-db '$(DB)'),backups))

## eval: the answering evaluation: the multilingual golden set (lib/answer/testdata/eval) against the
## real engine over a PostgreSQL index of the fixtures and knowledge/, offline and with a scripted
## model; prints the table (facts correct, hand-offs correct, leaks, wrong-language replies) and
## fails under its thresholds. `make test` runs it too; add ARGS=-eval.show to see every reply.
eval: deps
	$(GO) test -count=1 -run '^TestEval$$' -v ./lib/answer $(if $(ARGS),-args $(ARGS))

## bench: throughput and latency figures beside their baselines
bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./bench/... ./cmd/concierge

## mutate: mutation testing (gremlins v0.6.0) of the packages that guard guests and data, one
## package at a time with one worker; prints each package's score and fails below its minimum
## (.ci/mutate/packages.txt; equivalent mutants with their reasons in .ci/mutate/equivalent.txt).
## PKG=lib/jobs[,lib/guests] runs some. Over an hour on two cores: nightly
## (.github/workflows/nightly.yml), not part of `make test`. Scores in $(BIN)/mutate/score.json.
mutate: deps
	@mkdir -p $(BIN)
	cd .ci/tools/gremlins && $(GO) build -o $(CURDIR)/$(BIN)/gremlins github.com/go-gremlins/gremlins/cmd/gremlins
	cd .ci/tools/mutate && $(GO) run . -root $(CURDIR) -gremlins $(BIN)/gremlins -out $(BIN)/mutate $(if $(PKG),-only '$(PKG)')

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## build: every function as a static binary in bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/concierge ./cmd/concierge
	@# Each function with the template's own main.go, as the image builds it.
	@for f in $(FUNCTIONS); do \
	  echo "build $$f"; mkdir -p build/main/$$f; \
	  sed 's|concierge/functions/handler"|concierge/functions/'$$f'"|' template/concierge-go/main.go > build/main/$$f/main.go; \
	  CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/$$f ./build/main/$$f || exit 1; \
	done

clean:
	rm -rf $(BIN) build
