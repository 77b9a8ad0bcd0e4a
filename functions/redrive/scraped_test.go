package function

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/guesty"
	"github.com/harborstays/concierge/lib/replies"
	"github.com/harborstays/concierge/lib/retention"
)

// Prometheus scrapes only redrive: the series the alert rules read for the
// scheduled functions (reconciliation, retention) and for the hand-off
// rate are on its GET, declared even before their first run.
func TestMetricsCarryTheScheduledFunctionsSeries(t *testing.T) {
	h := start(t, nil)
	res, err := http.Get(h.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET: %d %s", res.StatusCode, raw)
	}
	for _, name := range []string{
		guesty.MetricReconcileRepaired, guesty.MetricReconcileLastFinished,
		retention.MetricRemoved, retention.MetricLastPass,
		replies.MetricRecent,
	} {
		if !strings.Contains(string(raw), "# TYPE "+name+" ") {
			t.Errorf("no %s on redrive's metrics", name)
		}
	}
	if !strings.Contains(string(raw), replies.MetricRecent+`{mode="handoff",window="7d"} 0`) {
		t.Errorf("the hand-off series is not written with its zero:\n%s", raw)
	}
}
