#!/bin/sh
# build.sh CONTEXT MODDIR OUTDIR
#
# The Go steps of the concierge-go templates, shared by the Dockerfile's build
# stage and by .ci/shrinkwrap-check, so CI runs exactly what an image build
# runs. Every template/*/build.sh must stay identical (the CI check
# compares them).
#
# CONTEXT is a build context written by `faas-cli build --shrinkwrap`
# (build/<fn>/): the template's files at its root, and in CONTEXT/function/ the
# function's handler directory plus the configuration.copy paths of stack.yml
# (lib/, go.mod, go.sum). From it, MODDIR becomes a copy of the monorepo's
# shape:
#
#   MODDIR/go.mod, go.sum, lib/    the root module and the shared library
#   MODDIR/functions/handler/      the function's handler directory
#   MODDIR/cmd/handler/main.go     the template's main.go
#
# then: gofmt check, go vet, go test of the handler (unless
# TEST_ENABLED=false), a static build to OUTDIR/handler and a check that the
# binary is static.
#
# Environment: TEST_ENABLED (default true); TARGETOS/TARGETARCH (the docker
# buildx platform; empty means the build machine's) apply to the final
# `go build` only, so tests always run natively.
set -eu

if [ "$#" -ne 3 ]; then
	echo "usage: build.sh CONTEXT MODDIR OUTDIR" >&2
	exit 2
fi
ctx=$1
mod=$2
out=$3
fn=$ctx/function

fail() {
	echo "build.sh: $*" >&2
	exit 1
}

for f in go.mod go.sum lib; do
	[ -e "$fn/$f" ] || fail "$fn/$f missing: stack.yml must have configuration.copy: [./lib, ./go.mod, ./go.sum]"
done
[ -f "$ctx/main.go" ] || fail "$ctx/main.go missing: is $ctx a concierge-go build context?"

# Assemble the module tree. MODDIR may already hold go.mod and go.sum (the
# Dockerfile copies them first to cache `go mod download`); they are replaced.
mkdir -p "$mod" "$out"
rm -rf "$mod/functions" "$mod/cmd" "$mod/lib"
mkdir -p "$mod/functions/handler" "$mod/cmd/handler"
cp -R "$fn/." "$mod/functions/handler/"
for f in go.mod go.sum lib; do
	rm -rf "$mod/$f"
	mv "$mod/functions/handler/$f" "$mod/$f"
done
cp "$ctx/main.go" "$mod/cmd/handler/main.go"

cd "$mod"
module=$(go list -m)
[ "$module" = "github.com/harborstays/concierge" ] || fail "go.mod declares module $module, want github.com/harborstays/concierge"

echo "==> gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "$unformatted" >&2
	fail "files above need gofmt (run gofmt -w on them)"
fi

echo "==> go vet ./..."
go vet ./...

if [ "${TEST_ENABLED:-true}" != "false" ]; then
	echo "==> go test ./functions/..."
	go test ./functions/...
else
	echo "==> go test skipped (TEST_ENABLED=false)"
fi

echo "==> go build ./cmd/handler"
GOOS=${TARGETOS:-$(go env GOOS)} GOARCH=${TARGETARCH:-$(go env GOARCH)} CGO_ENABLED=0 \
	go build -trimpath -ldflags "-s -w" -o "$out/handler" ./cmd/handler

# Static check: the final images have no libc (distroless static). The build
# settings recorded in the binary must say CGO_ENABLED=0, and where binutils is
# present the ELF must have no program interpreter (INTERP).
go version -m "$out/handler" | grep -q 'CGO_ENABLED=0' ||
	fail "$out/handler was not built with CGO_ENABLED=0"
if command -v readelf >/dev/null 2>&1; then
	if readelf -lW "$out/handler" | grep -q INTERP; then
		fail "$out/handler is dynamically linked (has an ELF interpreter)"
	fi
fi
echo "==> $out/handler: static, $(wc -c <"$out/handler") bytes"
