module github.com/harborstays/concierge/ci/tools/rehearse

go 1.26.0

require (
	github.com/harborstays/concierge v0.0.0
	gopkg.in/yaml.v3 v3.0.1
)

replace github.com/harborstays/concierge => ../../..
