package guests_test

import (
	"context"
	"os"
	"testing"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/guests"
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
		proof          guests.Proof
	}
	for _, tc := range []struct {
		name string
		c    guests.Claim
		want want
	}{
		{"widget identifier without hmac is a claim",
			guests.Claim{Channel: guests.ChannelWebWidget, Contact: guests.Contact{Identifier: "g-jordan"}},
			want{"g-jordan", "", guests.ProofNone}},
		{"widget email without hmac is a claim",
			guests.Claim{Channel: guests.ChannelWebWidget, Contact: guests.Contact{Email: "Jordan@example.com"}},
			want{"g-jordan", "", guests.ProofNone}},
		{"widget phone without hmac is a claim",
			guests.Claim{Channel: guests.ChannelWebWidget, SourceID: "b3c1e2a0-uuid", Contact: guests.Contact{Phone: "+1 555 555 0142"}},
			want{"g-jordan", "", guests.ProofNone}},
		{"widget custom attribute is unsigned even with hmac",
			guests.Claim{Channel: guests.ChannelWebWidget, HMACVerified: true, Contact: guests.Contact{GuestyGuestID: "g-jordan"}},
			want{"g-jordan", "", guests.ProofNone}},
		{"widget identifier signed by the website",
			guests.Claim{Channel: guests.ChannelWebWidget, HMACVerified: true, Contact: guests.Contact{Identifier: "g-jordan"}},
			want{"g-jordan", "g-jordan", guests.ProofHMAC}},
		{"widget visitor merged into the synced contact is no proof",
			guests.Claim{Channel: guests.ChannelWebWidget, AccountID: 1, ContactID: 58, Contact: guests.Contact{Identifier: "g-sam"}},
			want{"g-sam", "", guests.ProofNone}},
		{"api channel signed identifier",
			guests.Claim{Channel: guests.ChannelAPI, HMACVerified: true, Contact: guests.Contact{Identifier: "g-sam"}},
			want{"g-sam", "g-sam", guests.ProofHMAC}},
		{"api channel unsigned, synced contact",
			guests.Claim{Channel: guests.ChannelAPI, AccountID: 1, ContactID: 58},
			want{"", "", guests.ProofNone}},
		{"signed identifier of a deleted guest",
			guests.Claim{Channel: guests.ChannelWebWidget, HMACVerified: true, Contact: guests.Contact{Identifier: "g-gone"}},
			want{"", "", guests.ProofNone}},
		{"whatsapp sender number wins over the claimed identifier",
			guests.Claim{Channel: guests.ChannelWhatsApp, SourceID: "15555550142", Contact: guests.Contact{Identifier: "g-sam"}},
			want{"g-sam", "g-jordan", guests.ProofChannel}},
		{"whatsapp business-scoped user id carries no number",
			guests.Claim{Channel: guests.ChannelWhatsApp, SourceID: "US.13491208655302741918", Contact: guests.Contact{Phone: "+15555550142"}},
			want{"g-jordan", "", guests.ProofNone}},
		{"twilio whatsapp sender",
			guests.Claim{Channel: guests.ChannelTwilioSMS, SourceID: "whatsapp:+15555550177"},
			want{"", "g-sam", guests.ProofChannel}},
		{"sms sender shared by two guests proves nobody",
			guests.Claim{Channel: guests.ChannelSMS, SourceID: "+15555550199"},
			want{"", "", guests.ProofNone}},
		{"sms sender of nobody, contact claims by email",
			guests.Claim{Channel: guests.ChannelSMS, SourceID: "+15555550100", Contact: guests.Contact{Email: "sam@example.com"}},
			want{"g-sam", "", guests.ProofNone}},
		{"sms sender unknown but the contact is the synced one",
			guests.Claim{Channel: guests.ChannelSMS, SourceID: "+15555550100", AccountID: 1, ContactID: 58},
			want{"", "g-sam", guests.ProofSync}},
		{"email inbox: replies go to the sender's own address",
			guests.Claim{Channel: guests.ChannelEmail, SourceID: "Jordan@Example.com"},
			want{"", "g-jordan", guests.ProofEmail}},
		{"email inbox: an address two guests share",
			guests.Claim{Channel: guests.ChannelEmail, SourceID: "twins@example.com"},
			want{"", "", guests.ProofNone}},
		{"facebook contact linked by contact sync",
			guests.Claim{Channel: "Channel::FacebookPage", AccountID: 1, ContactID: 58},
			want{"", "g-sam", guests.ProofSync}},
		{"synced contact of another account",
			guests.Claim{Channel: "Channel::FacebookPage", AccountID: 2, ContactID: 58},
			want{"", "", guests.ProofNone}},
		{"synced contact of a deleted guest",
			guests.Claim{Channel: "Channel::Telegram", AccountID: 1, ContactID: 77},
			want{"", "", guests.ProofNone}},
		{"telegram contact claiming an identifier",
			guests.Claim{Channel: "Channel::Telegram", AccountID: 1, ContactID: 99, Contact: guests.Contact{Identifier: "g-jordan"}},
			want{"g-jordan", "", guests.ProofNone}},
		{"no channel at all",
			guests.Claim{Contact: guests.Contact{Identifier: "g-jordan"}, SourceID: "15555550142"},
			want{"g-jordan", "", guests.ProofNone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.DefaultRegion = "US"
			got, err := guests.Identify(ctx, d.Pool, tc.c)
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
