// This go.mod only fences the template off from the root module, so that
// `go build ./...`, `go vet ./...` and `go test ./...` at the repository root
// skip main.go here: it imports the handler package that build.sh assembles in
// the image (github.com/harborstays/concierge/functions/handler), which does
// not exist in the repository. build.sh never uses this file.
module github.com/harborstays/concierge/template/concierge-go-pg

go 1.26.0
