package function

import (
	"testing"

	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/jobs"
)

// Issue 13 (5): the function is public behind the gateway, so only a
// signed, fresh invocation of one of its own kinds runs a job; everything
// else gets one answer, before the job id is looked up.
func TestForgedJobInvocationsAreRefused(t *testing.T) {
	faastest.RefusesForgedJobs(t, start(t, nil).Harness, jobs.Reply, jobs.ContactSync)
}
