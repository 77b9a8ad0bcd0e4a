package infratest

import (
	"os"
	"regexp"
	"testing"

	"github.com/harborstays/concierge/lib/chatwoot"
)

// The Chatwoot image the platform deploys is the release the code is built
// for: agent-bot webhooks signed (4.13.0), labels and conversation show
// open to bot tokens (4.14.2). An older pin would refuse the bot's label
// call in production while every test against the fake passed.
func TestChatwootPinMeetsTheBuild(t *testing.T) {
	const path = "../../ansible/roles/platform/files/stacks/chatwoot/stack.yml"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^x-chatwoot-image:\s*&chatwoot-image\s+chatwoot/chatwoot:v?([0-9][0-9.]*)\s*$`).FindSubmatch(raw)
	if m == nil {
		t.Fatalf("%s: no x-chatwoot-image anchor with a chatwoot/chatwoot:vX.Y.Z tag; the test reads the pin from there", path)
	}
	pinned := string(m[1])
	if !chatwoot.VersionAtLeast(pinned, chatwoot.MinVersion) {
		t.Errorf("Chatwoot pinned at %s in %s, below chatwoot.MinVersion %s", pinned, path, chatwoot.MinVersion)
	}
	for _, older := range []string{"4.13.0", "4.14.1"} {
		if chatwoot.VersionAtLeast(older, chatwoot.MinVersion) {
			t.Errorf("VersionAtLeast(%s, %s) = true: the check would accept a release that refuses the bot's labels", older, chatwoot.MinVersion)
		}
	}
}
