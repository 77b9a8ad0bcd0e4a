package trust_test

import (
	"context"
	"os"
	"testing"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/guests/trust"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// TestIdentify is the trust table of issue 13: what a contact says decides
// nothing; the channel's own evidence does.
func TestIdentify(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO guests (id, full_name, last_name, email, phone_e164) VALUES
			('g-jordan', 'Jordan Lee', 'Lee', 'jordan@example.com', '+15555550142'),
			('g-sam', 'Sam Rivera', 'Rivera', 'sam@example.com', '+15555550177'),
			('g-twin1', 'Ana Twin', 'Twin', 'twins@example.com', '+15555550199'),
			('g-twin2', 'Bo Twin', 'Twin', 'twins@example.com', '+15555550199')`,
		`INSERT INTO guests (id, full_name, email, phone_e164, deleted_at) VALUES ('g-gone', 'Gone', 'gone@example.com', '+15555550111', now())`,
		// Contact sync wrote contact 58 for Sam.
		`INSERT INTO contact_links (guest_id, account_id, contact_id, synced_hash) VALUES ('g-sam', 1, 58, 'h'), ('g-gone', 1, 77, 'h')`,
	} {
		if _, err := d.Pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	type want struct {
		claimed, guest string
		proof          trust.Proof
	}
	for _, tc := range []struct {
		name string
		c    trust.Claim
		want want
	}{
		{"widget identifier without hmac is a claim",
			trust.Claim{Channel: trust.ChannelWebWidget, Contact: trust.Contact{Identifier: "g-jordan"}},
			want{"g-jordan", "", trust.ProofNone}},
		{"widget email without hmac is a claim",
			trust.Claim{Channel: trust.ChannelWebWidget, Contact: trust.Contact{Email: "Jordan@example.com"}},
			want{"g-jordan", "", trust.ProofNone}},
		{"widget phone without hmac is a claim",
			trust.Claim{Channel: trust.ChannelWebWidget, SourceID: "b3c1e2a0-uuid", Contact: trust.Contact{Phone: "+1 555 555 0142"}},
			want{"g-jordan", "", trust.ProofNone}},
		{"widget custom attribute is unsigned even with hmac",
			trust.Claim{Channel: trust.ChannelWebWidget, HMACVerified: true, Contact: trust.Contact{GuestyGuestID: "g-jordan"}},
			want{"g-jordan", "", trust.ProofNone}},
		{"widget identifier signed by the website",
			trust.Claim{Channel: trust.ChannelWebWidget, HMACVerified: true, Contact: trust.Contact{Identifier: "g-jordan"}},
			want{"g-jordan", "g-jordan", trust.ProofHMAC}},
		{"widget visitor merged into the synced contact is no proof",
			trust.Claim{Channel: trust.ChannelWebWidget, AccountID: 1, ContactID: 58, Contact: trust.Contact{Identifier: "g-sam"}},
			want{"g-sam", "", trust.ProofNone}},
		{"api channel signed identifier",
			trust.Claim{Channel: trust.ChannelAPI, HMACVerified: true, Contact: trust.Contact{Identifier: "g-sam"}},
			want{"g-sam", "g-sam", trust.ProofHMAC}},
		{"api channel unsigned, synced contact",
			trust.Claim{Channel: trust.ChannelAPI, AccountID: 1, ContactID: 58},
			want{"", "", trust.ProofNone}},
		{"signed identifier of a deleted guest",
			trust.Claim{Channel: trust.ChannelWebWidget, HMACVerified: true, Contact: trust.Contact{Identifier: "g-gone"}},
			want{"", "", trust.ProofNone}},
		{"whatsapp sender number wins over the claimed identifier",
			trust.Claim{Channel: trust.ChannelWhatsApp, SourceID: "15555550142", Contact: trust.Contact{Identifier: "g-sam"}},
			want{"g-sam", "g-jordan", trust.ProofChannel}},
		{"whatsapp business-scoped user id carries no number",
			trust.Claim{Channel: trust.ChannelWhatsApp, SourceID: "US.13491208655302741918", Contact: trust.Contact{Phone: "+15555550142"}},
			want{"g-jordan", "", trust.ProofNone}},
		{"twilio whatsapp sender",
			trust.Claim{Channel: trust.ChannelTwilioSMS, SourceID: "whatsapp:+15555550177"},
			want{"", "g-sam", trust.ProofChannel}},
		{"sms sender shared by two guests proves nobody",
			trust.Claim{Channel: trust.ChannelSMS, SourceID: "+15555550199"},
			want{"", "", trust.ProofNone}},
		{"sms sender of nobody, contact claims by email",
			trust.Claim{Channel: trust.ChannelSMS, SourceID: "+15555550100", Contact: trust.Contact{Email: "sam@example.com"}},
			want{"g-sam", "", trust.ProofNone}},
		{"sms sender unknown but the contact is the synced one",
			trust.Claim{Channel: trust.ChannelSMS, SourceID: "+15555550100", AccountID: 1, ContactID: 58},
			want{"", "g-sam", trust.ProofSync}},
		{"email inbox: replies go to the sender's own address",
			trust.Claim{Channel: trust.ChannelEmail, SourceID: "Jordan@Example.com"},
			want{"", "g-jordan", trust.ProofEmail}},
		{"email inbox: an address two guests share",
			trust.Claim{Channel: trust.ChannelEmail, SourceID: "twins@example.com"},
			want{"", "", trust.ProofNone}},
		{"facebook contact linked by contact sync",
			trust.Claim{Channel: "Channel::FacebookPage", AccountID: 1, ContactID: 58},
			want{"", "g-sam", trust.ProofSync}},
		{"synced contact of another account",
			trust.Claim{Channel: "Channel::FacebookPage", AccountID: 2, ContactID: 58},
			want{"", "", trust.ProofNone}},
		{"synced contact of a deleted guest",
			trust.Claim{Channel: "Channel::Telegram", AccountID: 1, ContactID: 77},
			want{"", "", trust.ProofNone}},
		{"telegram contact claiming an identifier",
			trust.Claim{Channel: "Channel::Telegram", AccountID: 1, ContactID: 99, Contact: trust.Contact{Identifier: "g-jordan"}},
			want{"g-jordan", "", trust.ProofNone}},
		{"no channel at all",
			trust.Claim{Contact: trust.Contact{Identifier: "g-jordan"}, SourceID: "15555550142"},
			want{"g-jordan", "", trust.ProofNone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.DefaultRegion = "US"
			got, err := trust.Identify(ctx, d.Pool, tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if got.Claimed != tc.want.claimed || got.Guest != tc.want.guest || got.Proof != tc.want.proof {
				t.Fatalf("Identify = %+v, want %+v", got, tc.want)
			}
			if got.Verified() != (tc.want.guest != "") {
				t.Fatalf("Verified() = %v for %+v", got.Verified(), got)
			}
		})
	}
}

// Resolve names the guest a contact claims, from the strongest key to the
// weakest; a phone or email shared by two guests names nobody, and a
// deleted guest is nobody.
func TestResolve(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := d.Pool.Exec(ctx, `INSERT INTO guests (id, full_name, email, phone_e164, deleted_at) VALUES
		('g-a', 'A', 'a@example.com', '+15555550101', NULL),
		('g-b', 'B', 'b@example.com', '+15555550102', NULL),
		('g-t1', 'T1', 'twins@example.com', '+15555550199', NULL),
		('g-t2', 'T2', 'twins@example.com', '+15555550199', NULL),
		('g-del', 'D', 'del@example.com', '+15555550103', now())`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		c    trust.Contact
		want string
	}{
		{"identifier first", trust.Contact{Identifier: "g-a", GuestyGuestID: "g-b", Email: "b@example.com"}, "g-a"},
		{"unknown identifier, then the attribute", trust.Contact{Identifier: "g-zzz", GuestyGuestID: "g-b"}, "g-b"},
		{"deleted identifier, then the phone", trust.Contact{Identifier: "g-del", Phone: "+1 555 555 0102", DefaultRegion: "US"}, "g-b"},
		{"phone before email", trust.Contact{Phone: "(555) 555-0101", DefaultRegion: "US", Email: "b@example.com"}, "g-a"},
		{"shared phone, then email", trust.Contact{Phone: "+15555550199", Email: "B@Example.com"}, "g-b"},
		{"shared email", trust.Contact{Email: "twins@example.com"}, ""},
		{"deleted guest's email", trust.Contact{Email: "del@example.com"}, ""},
		{"nothing", trust.Contact{}, ""},
	} {
		got, err := trust.Resolve(ctx, d.Pool, c.c)
		if err != nil || got != c.want {
			t.Errorf("%s: Resolve = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	d.Pool.Close()
	for _, c := range []trust.Contact{{Identifier: "g-a"}, {Email: "a@example.com"}} {
		if got, err := trust.Resolve(ctx, d.Pool, c); err == nil {
			t.Errorf("Resolve(%+v) on a closed pool = %q, no error", c, got)
		}
	}
}

// A proof without a guest, or a guest without a proof, is not a verified
// identity. Kills: Verified's `i.Proof != ProofNone && i.Guest != ""` made
// || (TestIdentify's identities have both or neither).
func TestVerifiedNeedsProofAndGuest(t *testing.T) {
	for _, c := range []struct {
		id   trust.Identity
		want bool
	}{
		{trust.Identity{Guest: "g-a", Proof: trust.ProofHMAC}, true},
		{trust.Identity{Guest: "g-a"}, false},
		{trust.Identity{Claimed: "g-a", Proof: trust.ProofChannel}, false},
		{trust.Identity{}, false},
	} {
		if got := c.id.Verified(); got != c.want {
			t.Errorf("%+v.Verified() = %v, want %v", c.id, got, c.want)
		}
	}
}
