module github.com/harborstays/concierge/ci/tools/testjson

go 1.26.0
