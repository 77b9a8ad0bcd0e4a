# Concierge: `make run` starts the whole system locally, `make test` runs
# every test. See README.md.

SHELL     := /bin/bash
GO        ?= go
PORT      ?= 8080
FUZZTIME  ?= 30s
BIN       := bin
FUNCTIONS := $(notdir $(wildcard functions/*))
LDFLAGS   := -s -w

.PHONY: restore replay reindex doctor all run test unit fuzz-short fuzz bench lint build deps clean shrinkwrap infra

all: build

deps:
	@.ci/deps

## run: the whole system on 127.0.0.1:$(PORT) on embedded defaults
run: deps
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/concierge ./cmd/concierge
	PORT=$(PORT) exec $(BIN)/concierge run

## test: every test (lint, unit and integration tests on a real PostgreSQL,
## short fuzz runs, the template build of every function, the infra checks)
test: deps lint unit fuzz-short shrinkwrap infra

# faas-cli build --shrinkwrap, then the Dockerfile's Go steps on every context.
shrinkwrap:
	.ci/shrinkwrap-check

# terraform fmt + tflint, ansible syntax check + ansible-lint, docker stack config.
infra:
	.ci/infra-check

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

## replay: re-queue failed jobs and invoke them: make replay KIND=vectorize | ID=<uuid>[,<uuid>] | ALL=1
## (DRY_RUN=1 shows what would change); DATABASE_URL, or the local runner's cluster
replay:
	@test -n "$(KIND)$(ID)$(ALL)" || { echo "make replay KIND=<kind> | ID=<uuid>[,<uuid>] | ALL=1 [DRY_RUN=1]"; exit 2; }
	GATEWAY_URL=$${GATEWAY_URL:-http://127.0.0.1:$(PORT)} $(GO) run ./cmd/concierge replay \
	  $(if $(KIND),--kind '$(KIND)') $(if $(ID),--id '$(ID)') $(if $(ALL),--all-failed) $(if $(DRY_RUN),--dry-run)

## restore: list the backups (BACKUP_DIR or the R2 bucket), or restore one into a new
## database: make restore BACKUP=latest|<key> INTO=<database>; DATABASE_URL, or the
## local runner's cluster (see lib/backup/README.md)
restore:
	@test -z "$(BACKUP)" -o -n "$(INTO)" || { echo "make restore BACKUP=latest|<key> INTO=<new database>"; exit 2; }
	$(GO) run ./cmd/concierge $(if $(BACKUP),restore -backup '$(BACKUP)' -into '$(INTO)',backups)

## bench: throughput and latency figures beside their baselines
bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./bench/... ./cmd/concierge

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
