module github.com/harborstays/concierge/ci/tools/mutate

go 1.26.0
