package documents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/guests"
	"github.com/harborstays/concierge/lib/retrieval"
)

// CustomField names a Guesty listing custom field worth indexing.
type CustomField struct {
	Label      string
	Restricted bool
}

// SettingCustomFields names the Guesty listing custom fields documents
// carry. vectorize indexes them; chatwoot-reply puts the secret ones (door
// code, Wi-Fi) in the urgent-call note for the team.
var SettingCustomFields = config.Register(config.Setting{Name: "LISTING_CUSTOM_FIELDS",
	Default: "650000000000000000000001=Wi-Fi network!,650000000000000000000002=Wi-Fi password!",
	Help:    "Guesty listing custom fields to index: id=Label, with ! for secrets shared only during a stay", Used: "vectorize, chatwoot-reply"})

// ParseCustomFields reads "id=Label,id=Label!" ("!" marks a secret such as
// a Wi-Fi password or a door code).
func ParseCustomFields(s string) (map[string]CustomField, error) {
	out := map[string]CustomField{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, label, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(id) == "" || strings.TrimSpace(label) == "" {
			return nil, fmt.Errorf("custom field %q: want id=Label or id=Label!", part)
		}
		label = strings.TrimSpace(label)
		f := CustomField{Label: strings.TrimSuffix(label, "!"), Restricted: strings.HasSuffix(label, "!")}
		out[strings.TrimSpace(id)] = f
	}
	return out, nil
}

// Builder renders documents from PostgreSQL rows.
type Builder struct {
	DB           *pgxpool.Pool
	CustomFields map[string]CustomField
}

// ErrGone means the record is absent, removed or no longer retrievable:
// its documents are to be deleted.
var ErrGone = errors.New("record gone")

type listingRaw struct {
	Title           string   `json:"title"`
	Nickname        string   `json:"nickname"`
	PropertyType    string   `json:"propertyType"`
	Accommodates    int      `json:"accommodates"`
	Bedrooms        int      `json:"bedrooms"`
	Bathrooms       float64  `json:"bathrooms"`
	Amenities       []string `json:"amenities"`
	DefaultCheckIn  string   `json:"defaultCheckInTime"`
	DefaultCheckOut string   `json:"defaultCheckOutTime"`
	Address         struct {
		Full    string `json:"full"`
		City    string `json:"city"`
		State   string `json:"state"`
		Country string `json:"country"`
	} `json:"address"`
	PublicDescription struct {
		Summary      string `json:"summary"`
		Space        string `json:"space"`
		Access       string `json:"access"`
		Neighborhood string `json:"neighborhood"`
		Transit      string `json:"transit"`
		Notes        string `json:"notes"`
		HouseRules   string `json:"houseRules"`
	} `json:"publicDescription"`
	CustomFields []struct {
		FieldID string          `json:"fieldId"`
		Value   json.RawMessage `json:"value"`
	} `json:"customFields"`
}

// Listing returns one document per section of listing id.
func (b *Builder) Listing(ctx context.Context, id string) ([]Document, error) {
	var raw []byte
	var removed *time.Time
	var title *string
	err := b.DB.QueryRow(ctx, "SELECT raw, removed_at, title FROM listings WHERE id = $1", id).Scan(&raw, &removed, &title)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && removed != nil) {
		return nil, ErrGone
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", id, err)
	}
	var l listingRaw
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("listing %s: raw payload: %w", id, err)
	}
	name := l.Title
	if name == "" && title != nil {
		name = *title
	}
	owner := retrieval.Owner{ListingID: id}
	var docs []Document
	add := func(section, heading, text string, restricted bool) {
		text = strings.TrimSpace(text)
		if text == "" {
			return
		}
		docs = append(docs, Document{
			ID: "listing:" + id + ":" + section, Kind: "listing", Section: section,
			Title: strings.TrimSpace(name + " — " + heading), Text: text, Owner: owner, Restricted: restricted,
		})
	}
	d := l.PublicDescription
	summary := d.Summary
	if l.PropertyType != "" || l.Bedrooms > 0 || l.Accommodates > 0 {
		summary += fmt.Sprintf("\n%s with %d bedroom(s) and %g bathroom(s), for up to %d guests.", or(l.PropertyType, "Home"), l.Bedrooms, l.Bathrooms, l.Accommodates)
	}
	if l.Address.City != "" {
		summary += "\nLocated in " + strings.Join(nonEmpty(l.Address.City, l.Address.State, l.Address.Country), ", ") + "."
	}
	add("summary", "Summary", summary, false)
	add("space", "The space", d.Space, false)
	access := d.Access
	if l.DefaultCheckIn != "" || l.DefaultCheckOut != "" {
		access = strings.TrimSpace(fmt.Sprintf("Check-in time is from %s; check-out time is by %s.\n%s",
			clock(l.DefaultCheckIn), clock(l.DefaultCheckOut), access))
	}
	add("access", "Access, check-in and check-out", access, false)
	add("house_rules", "House rules", d.HouseRules, false)
	if len(l.Amenities) > 0 {
		add("amenities", "Amenities", "Amenities: "+strings.Join(l.Amenities, ", ")+".", false)
	}
	add("neighborhood", "Neighbourhood and transit", strings.TrimSpace(d.Neighborhood+"\n"+d.Transit), false)
	add("notes", "Notes", d.Notes, false)
	add("address", "Exact address", l.Address.Full, true)
	var public, secret []string
	for _, f := range l.CustomFields {
		cf, ok := b.CustomFields[f.FieldID]
		if !ok {
			continue
		}
		var v any
		if json.Unmarshal(f.Value, &v) != nil || v == nil || fmt.Sprint(v) == "" {
			continue
		}
		line := cf.Label + ": " + fmt.Sprint(v)
		if cf.Restricted {
			secret = append(secret, line)
		} else {
			public = append(public, line)
		}
	}
	add("details", "Details", strings.Join(public, "\n"), false)
	add("private", "Private details for the stay: "+labels(secret), strings.Join(secret, "\n"), true)
	return docs, nil
}

// clock renders Guesty's "15:00" the way guests read it: "3:00 PM (15:00)".
func clock(hhmm string) string {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		return "the agreed time"
	}
	return t.Format("3:04 PM") + " (" + hhmm + ")"
}

func labels(lines []string) string {
	var out []string
	for _, l := range lines {
		label, _, _ := strings.Cut(l, ":")
		out = append(out, label)
	}
	return strings.Join(out, ", ")
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Reservation returns the facts document of reservation id.
func (b *Builder) Reservation(ctx context.Context, id string) ([]Document, error) {
	var (
		code, status, listingID, guestID, arrival, departure *string
		checkIn, checkOut, inLocal, outLocal                 *time.Time
		party                                                *int
		listingTitle, tz, inTime, outTime, guestName         *string
		guestDeleted                                         *time.Time
	)
	err := b.DB.QueryRow(ctx, `
		SELECT r.confirmation_code, r.status, r.listing_id, r.guest_id, r.planned_arrival, r.planned_departure,
			r.check_in, r.check_out, r.check_in_local, r.check_out_local, r.guests_count,
			l.title, l.timezone, l.default_check_in_time, l.default_check_out_time, g.full_name, g.deleted_at
		FROM reservations r
		LEFT JOIN listings l ON l.id = r.listing_id
		LEFT JOIN guests g ON g.id = r.guest_id
		WHERE r.id = $1`, id).Scan(&code, &status, &listingID, &guestID, &arrival, &departure,
		&checkIn, &checkOut, &inLocal, &outLocal, &party, &listingTitle, &tz, &inTime, &outTime, &guestName, &guestDeleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrGone
	}
	if err != nil {
		return nil, fmt.Errorf("reservation %s: %w", id, err)
	}
	if guestID == nil || guestDeleted != nil || (status != nil && guests.Inactive(strings.ToLower(*status))) {
		return nil, ErrGone
	}
	loc := time.UTC
	if tz != nil {
		if l, err := time.LoadLocation(*tz); err == nil {
			loc = l
		}
	}
	when := func(local *time.Time, instant *time.Time, def *string) string {
		switch {
		case instant != nil:
			t := instant.In(loc)
			return t.Format("Monday 2 January 2006 at 15:04") + " (" + loc.String() + ")"
		case local != nil:
			s := local.Format("Monday 2 January 2006")
			if def != nil {
				s += " at " + *def
			}
			return s
		}
		return "not set"
	}
	var b2 strings.Builder
	fmt.Fprintf(&b2, "Reservation %s for %s at %s.\n", deref(code), or(deref(guestName), "the guest"), or(deref(listingTitle), "the listing"))
	fmt.Fprintf(&b2, "Status: %s.\n", deref(status))
	fmt.Fprintf(&b2, "Check-in: %s.\nCheck-out: %s.\n", when(inLocal, checkIn, inTime), when(outLocal, checkOut, outTime))
	if party != nil {
		fmt.Fprintf(&b2, "Party size: %d guests.\n", *party)
	}
	if arrival != nil {
		fmt.Fprintf(&b2, "Planned arrival: %s.\n", *arrival)
	}
	if departure != nil {
		fmt.Fprintf(&b2, "Planned departure: %s.\n", *departure)
	}
	return []Document{{
		ID: "reservation:" + id, Kind: "reservation", Section: "facts", Title: "Your reservation " + deref(code),
		Text: b2.String(), Owner: retrieval.Owner{GuestID: *guestID, ReservationID: id, ListingID: deref(listingID)},
	}}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Call returns the documents of call id, owned by the one guest whose phone
// matches; a call nobody can be matched to is not retrievable. What the
// guest heard (direction, time, who answered, voicemail, Aircall's summary
// and transcript) is one document; the team's comments and tags on the
// call are internal notes ("Offered 1 PM if cleaning finishes") and go in a
// second, team-only document (CallNotesID), never quoted to the guest.
func (b *Builder) Call(ctx context.Context, id int64) ([]Document, error) {
	var (
		direction, missed, agent, transcript, summary, phone *string
		started, ended                                       *time.Time
		duration                                             *int
		comments, tags                                       []byte
		voicemail                                            bool
	)
	err := b.DB.QueryRow(ctx, `SELECT direction, missed_call_reason, agent_name, transcript, summary, phone_e164,
			started_at, ended_at, duration, comments, tags, has_voicemail
		FROM calls WHERE id = $1`, id).Scan(&direction, &missed, &agent, &transcript, &summary, &phone,
		&started, &ended, &duration, &comments, &tags, &voicemail)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrGone
	}
	if err != nil {
		return nil, fmt.Errorf("call %d: %w", id, err)
	}
	if phone == nil {
		return nil, ErrGone
	}
	var guestIDs []string
	rows, err := b.DB.Query(ctx, "SELECT id FROM guests WHERE phone_e164 = $1 AND deleted_at IS NULL", *phone)
	if err != nil {
		return nil, fmt.Errorf("call %d: match guest: %w", id, err)
	}
	if guestIDs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, fmt.Errorf("call %d: match guest: %w", id, err)
	}
	if len(guestIDs) != 1 {
		// Nobody, or a number shared by several guests: attributing the
		// call to one of them could show it to the wrong person.
		return nil, ErrGone
	}
	var t strings.Builder
	fmt.Fprintf(&t, "%s call", strings.ToUpper(or(deref(direction), "phone")[:1])+or(deref(direction), "phone")[1:])
	if started != nil {
		fmt.Fprintf(&t, " on %s UTC", started.UTC().Format("Monday 2 January 2006 at 15:04"))
	}
	switch {
	case missed != nil:
		fmt.Fprintf(&t, ", missed (%s)", strings.ReplaceAll(*missed, "_", " "))
	case agent != nil:
		fmt.Fprintf(&t, ", answered by %s", *agent)
	}
	if duration != nil && *duration > 0 {
		fmt.Fprintf(&t, ", %d min %d s", *duration/60, *duration%60)
	}
	t.WriteString(".\n")
	if voicemail {
		t.WriteString("The caller left a voicemail.\n")
	}
	if summary != nil {
		fmt.Fprintf(&t, "Summary: %s\n", *summary)
	}
	if transcript != nil {
		fmt.Fprintf(&t, "Transcript: %s\n", *transcript)
	}
	owner := retrieval.Owner{GuestID: guestIDs[0]}
	docs := []Document{{
		ID: fmt.Sprintf("call:%d", id), Kind: "call", Section: "call", Title: "Phone call with the support team",
		Text: t.String(), Owner: owner,
	}}
	var n strings.Builder
	var cs []struct {
		Content string `json:"content"`
	}
	_ = json.Unmarshal(comments, &cs)
	for _, c := range cs {
		if c := strings.TrimSpace(c.Content); c != "" {
			fmt.Fprintf(&n, "Agent note: %s\n", c)
		}
	}
	var ts []struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(tags, &ts)
	var names []string
	for _, x := range ts {
		if x := strings.TrimSpace(x.Name); x != "" {
			names = append(names, x)
		}
	}
	if len(names) > 0 {
		fmt.Fprintf(&n, "Tags: %s.\n", strings.Join(names, ", "))
	}
	if n.Len() > 0 {
		docs = append(docs, Document{
			ID: CallNotesID(id), Kind: "call", Section: "team_notes", Title: "Team notes on the phone call",
			Text: n.String(), Owner: owner, TeamOnly: true,
		})
	}
	return docs, nil
}

// CallNotesID is the id of the team-only document holding call id's
// comments and tags.
func CallNotesID(id int64) string { return fmt.Sprintf("call:%d:notes", id) }
