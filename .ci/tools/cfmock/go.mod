module github.com/harborstays/concierge/ci/tools/cfmock

go 1.26.0
