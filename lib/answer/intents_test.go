package answer

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/guests"
	"github.com/harborstays/concierge/lib/lang"
	"github.com/harborstays/concierge/lib/retrieval"
)

func TestIntentLexicon(t *testing.T) {
	tests := []struct {
		q, lang string
		want    []string
	}{
		// Common questions that share no word with the English listing.
		{"¿Cuándo tenemos que dejar la casa?", lang.ES, []string{"checkout_time"}},
		{"A que horas temos de sair da casa?", lang.PT, []string{"checkout_time"}},
		{"Bis wann müssen wir die Wohnung verlassen?", lang.DE, []string{"checkout_time"}},
		{"a che ora è il check-out?", lang.IT, []string{"checkout_time"}},
		{"Où peut-on se garer ?", lang.FR, []string{"parking"}},
		{"¿Se admiten mascotas?", lang.ES, []string{"pets"}},
		{"Qual è la password del wifi?", lang.IT, []string{"wifi"}},
		// Hyphenated and compound words.
		{"Wie lautet das WLAN-Passwort?", lang.DE, []string{"wifi"}},
		{"Dürfen wir eine kleine Geburtstagsfeier machen?", lang.DE, []string{"parties"}},
		{"Gibt es einen Tiefgaragenstellplatz?", lang.DE, []string{"parking"}},
		// The more specific intent wins.
		{"What do we need to do before checkout?", lang.EN, []string{"checkout_instructions"}},
		{"How do we check in?", lang.EN, []string{"access"}},
		{"What time can we check in?", lang.EN, []string{"checkin_time"}},
		{"Are pets allowed?", lang.EN, []string{"pets"}},
		{"What are the house rules?", lang.EN, []string{"house_rules"}},
		{"¿Cómo llegamos desde el aeropuerto?", lang.ES, []string{"directions"}},
		{"Comment venir depuis la gare ?", lang.FR, []string{"directions"}},
		{"Où est-ce qu'on se gare ?", lang.FR, []string{"parking"}},
		// A word that asks this only about time.
		{"A que hora hay que dejar el alojamiento?", lang.ES, []string{"checkout_time"}},
		{"¿Dónde podemos dejar las maletas?", lang.ES, nil},
		// A word two intents share goes to the time in a question about time.
		{"A que horas é a entrada?", lang.PT, []string{"checkin_time"}},
		{"Como funciona a entrada na cabana?", lang.PT, []string{"access"}},
		{"When can we get in?", lang.EN, []string{"checkin_time"}},
		{"How do we get in?", lang.EN, []string{"access"}},
		// "à partir de" is "from", not leaving.
		{"Bonjour, à partir de quelle heure peut-on arriver ?", lang.FR, []string{"checkin_time"}},
		// Two questions, two intents.
		{"What time is check-in? And where do we park?", lang.EN, []string{"checkin_time", "parking"}},
		// Nothing the lexicon knows; French words only count in French.
		{"Is there a sauna?", lang.EN, nil},
		{"Can I chat with you later?", lang.EN, nil},
	}
	for _, tt := range tests {
		got := intentNames(tt.q, tt.lang)
		if len(got) == 0 {
			got = nil
		}
		want := append([]string(nil), tt.want...)
		if want != nil {
			want = sortedCopy(want)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("intentNames(%q, %s) = %v, want %v", tt.q, tt.lang, got, want)
		}
	}
}

func sortedCopy(ss []string) []string {
	out := append([]string(nil), ss...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// Every intent speaks all six languages, and every sentence the offline
// answerer says exists in all of them with the same placeholders.
func TestLexiconAndTemplatesAreComplete(t *testing.T) {
	for _, x := range DefaultIntents {
		if x.Query == "" || (len(x.Sections) == 0 && x.Fact == noFact) {
			t.Errorf("%s: no query or no source", x.Name)
		}
		for _, l := range lang.Supported {
			if len(x.words[l]) == 0 {
				t.Errorf("%s: no words in %s", x.Name, l)
			}
		}
		for _, p := range x.Topic.Problems() {
			t.Errorf("%s topic: %s", x.Name, p)
		}
		if x.Frame != nil {
			for _, p := range x.Frame.Problems() {
				t.Errorf("%s frame: %s", x.Name, p)
			}
		}
	}
	for name, text := range map[string]lang.Text{"checkIn": checkInText, "checkOut": checkOutText, "listingLead": listingLead,
		"sharedLead": sharedLead, "restLead": restLead, "sourceLine": sourceLine, "reservationTitle": reservationTitle} {
		for _, p := range text.Problems() {
			t.Errorf("%s: %s", name, p)
		}
	}
}

// The keyword syntax: whole words, a trailing * for any ending, a leading
// one for any beginning (German compounds), hyphen and space alike.
func TestKeywordSyntax(t *testing.T) {
	for _, c := range []struct {
		text, kw string
		want     bool
	}{
		{"das wlan-passwort bitte", "wlan", true},
		{"early check in please", "early check-in", true},
		{"early check-in please", "early check in", true},
		{"gibt es einen tiefgaragenstellplatz", "*stellplatz*", true},
		{"gibt es einen tiefgaragenstellplatz", "stellplatz*", false},
		{"eine geburtstagsfeier", "*feier", true},
		{"nach dem feierabend", "*feier", false},
		{"nach dem feierabend", "*feier*", true},
		{"wlan", "*", false},
	} {
		if got := matches(c.text, c.kw); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.text, c.kw, got, c.want)
		}
	}
	if got := spans("die tiefgaragenstellplatz frage", "*stellplatz*", 0); len(got) != 1 || got[0] != [2]int{4, 25} {
		t.Errorf("an infix keyword's span = %v, want the whole word [4 25]", got)
	}
}

func listingHit(section, text string) retrieval.Hit {
	return retrieval.Hit{Chunk: retrieval.Chunk{ID: "listing:L:" + section + "#0", Kind: "listing", Section: section,
		Title: "Cabin — " + section, Text: text, Owner: retrieval.Owner{ListingID: "L"}}}
}

func knowledgeHit(n int, text string) retrieval.Hit {
	return retrieval.Hit{Chunk: retrieval.Chunk{ID: "knowledge:policies.md:" + string(rune('0'+n)) + "#0", Kind: "knowledge",
		Title: "Policy", Text: text, Owner: retrieval.Owner{Global: true}}}
}

var (
	cabinAccess = listingHit("access", "Check-in time is from 4:00 PM (16:00); check-out time is by 10:00 AM (10:00).\n"+
		"Lockbox on the porch railing. Parking: the gravel driveway fits two cars.")
	cabinRules = listingHit("house_rules", "Quiet hours 9 PM to 7 AM. No smoking. Dogs welcome with a fee. "+
		"Please run the dishwasher and take out the trash before checkout.")
	sharedTimes = knowledgeHit(0, "Standard check-in is from 3:00 PM and checkout is by 11:00 AM, local time of the home.")
	sharedPets  = knowledgeHit(1, "Pets, dogs and cats included, are not allowed unless the listing says otherwise.")
	sharedNoise = knowledgeHit(2, "Parties and events are not allowed. Please respect the quiet hours of each home.")
)

// The most specific source wins: the reservation over the listing over
// the shared policies, and a shared default that contradicts the
// listing's own value is never quoted beside it.
func TestMostSpecificSourceWins(t *testing.T) {
	now := time.Date(2025, 7, 15, 12, 0, 0, 0, time.UTC)
	// The reservation's check-in (17:00 in Denver) differs from the
	// listing's current default (16:00): the reservation holds.
	booked := &guests.Stay{ReservationID: "R", Status: "confirmed", ListingID: "L", Timezone: "America/Denver",
		CheckIn: time.Date(2025, 7, 19, 23, 0, 0, 0, time.UTC), CheckOut: time.Date(2025, 7, 22, 16, 0, 0, 0, time.UTC)}
	all := []retrieval.Hit{sharedTimes, sharedPets, sharedNoise, cabinAccess, cabinRules}
	tests := []struct {
		name, q string
		stay    *guests.Stay
		hits    []retrieval.Hit
		want    []string
		never   []string
		cites   []string
	}{
		{"listing over shared", "What time is check-in?", nil, all,
			[]string{"4:00 PM"}, []string{"3:00 PM", "11:00", "10:00"}, []string{cabinAccess.ID}},
		{"listing over shared, in Spanish", "¿A qué hora es el check-in?", nil, all,
			[]string{"4:00 PM", "check-in"}, []string{"3:00 PM"}, []string{cabinAccess.ID}},
		{"reservation over listing", "What time is check-in?", booked, all,
			[]string{"5:00 PM"}, []string{"4:00 PM", "3:00 PM"}, []string{stayCitation}},
		{"reservation agreeing with the listing cites both", "When do we have to leave?", booked, all,
			[]string{"10:00 AM"}, []string{"11:00"}, []string{stayCitation, cabinAccess.ID}},
		{"listing's pet rule over the shared default", "Can we bring our dog?", nil, all,
			[]string{"Dogs welcome with a fee."}, []string{"not allowed"}, []string{cabinRules.ID}},
		{"listing's quiet hours over the shared reminder", "What are the quiet hours?", nil, all,
			[]string{"9 PM to 7 AM"}, []string{"respect the quiet hours"}, []string{cabinRules.ID}},
		{"the shared policy when the listing says nothing", "Are pets allowed?", nil, []retrieval.Hit{sharedPets, listingHit("house_rules", "No smoking.")},
			[]string{"not allowed unless the listing says otherwise"}, []string{"No smoking"}, []string{sharedPets.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := engine(t, &fakeIndex{hits: tt.hits}, nil).Answer(context.Background(),
				Request{Question: tt.q, Access: guests.Access{GuestID: "G", Stay: tt.stay}, Now: now})
			if res.Handoff {
				t.Fatalf("handed off: %s", res.Reason)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.Text, w) {
					t.Errorf("answer lacks %q:\n%s", w, res.Text)
				}
			}
			for _, n := range tt.never {
				if strings.Contains(res.Text, n) {
					t.Errorf("answer quotes %q beside the more specific source:\n%s", n, res.Text)
				}
			}
			var ids []string
			for _, c := range res.Citations {
				ids = append(ids, c.ID)
			}
			if !reflect.DeepEqual(ids, tt.cites) {
				t.Errorf("citations %v, want %v", ids, tt.cites)
			}
		})
	}
}

// The offline answerer quotes only sentences that answer the question's
// intent: not the rest of the section, not another section's sentence that
// shares a word ("checkout" in the trash reminder), not the shared policy.
func TestQuotesOnlyWhatAnswers(t *testing.T) {
	loftAccess := listingHit("access", "Check-in time is from 3:00 PM (15:00); check-out time is by 11:00 AM (11:00).\n"+
		"Self check-in with the keypad on the blue front door. Your personal door code is sent on the morning of arrival. "+
		"Parking: space 12 in the rear lot.")
	loftRules := listingHit("house_rules", "No smoking anywhere on the property. No parties or events. Quiet hours 10 PM to 8 AM. "+
		"No pets. Please run the dishwasher and take out the trash before checkout.")
	amenities := listingHit("amenities", "Amenities: Wireless Internet, Kitchen, Washer, Dryer, Air conditioning, Free parking on premises.")
	hits := []retrieval.Hit{loftAccess, loftRules, amenities, sharedTimes, sharedPets, sharedNoise}
	tests := []struct {
		q     string
		want  []string
		never []string
	}{
		{"What time can we check in?", []string{"3:00 PM"}, []string{"11:00", "dishwasher", "Standard check-in", "keypad", "Parking"}},
		{"Where do we park?", []string{"space 12", "Free parking on premises"}, []string{"keypad", "Quiet hours", "Washer", "Check-in time"}},
		{"Can we bring the dog?", []string{"No pets."}, []string{"No smoking", "Quiet hours", "dishwasher", "not allowed"}},
		{"What should we do before checkout?", []string{"dishwasher"}, []string{"No smoking", "11:00", "Standard"}},
		{"How do we get in?", []string{"keypad", "door code"}, []string{"Parking", "Check-in time"}},
		// No intent: the best sentence, and a list pruned to what was
		// asked; a shared sentence on the same word is not added beside
		// the listing's.
		{"Is there a washing machine?", []string{"Amenities: Washer."}, []string{"Kitchen", "Wireless", "No smoking", "laundry service"}},
	}
	hits = append(hits, knowledgeHit(3, "A washing and laundry service can be booked for long stays."),
		listingHit("notes", "Washing the balcony is not needed."))
	tests = append(tests,
		// A second sentence only when it answers another word of the
		// question, and only from the same kind of source: the shared
		// policy does not follow the listing's rule.
		struct {
			q     string
			want  []string
			never []string
		}{"Is the hot tub open late?", []string{"Hot tub closes at 10 PM."}, []string{"open late"}},
		struct {
			q     string
			want  []string
			never []string
		}{"Is there a washing machine?", []string{"Washer"}, []string{"balcony"}},
	)
	hits = append(hits, listingHit("house_rules", "Hot tub closes at 10 PM."), knowledgeHit(4, "Shared spas stay open late."))
	for _, tt := range tests {
		res := engine(t, &fakeIndex{hits: hits}, nil).Answer(context.Background(),
			Request{Question: tt.q, Access: guests.Access{GuestID: "G"}, Now: time.Now()})
		if res.Handoff {
			t.Errorf("%q handed off: %s", tt.q, res.Reason)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(res.Text, w) {
				t.Errorf("%q: answer lacks %q:\n%s", tt.q, w, res.Text)
			}
		}
		for _, n := range tt.never {
			if strings.Contains(res.Text, n) {
				t.Errorf("%q: answer quotes an unrelated %q:\n%s", tt.q, n, res.Text)
			}
		}
	}
}

// A quote answers a word only with its modifier: a clothes dryer is no
// answer to a hair dryer. The offline answerer hands those off rather than
// mislead; the head noun alone may differ ("washing machine" is answered
// by "Washer").
func TestModifierMustMatch(t *testing.T) {
	amenities := listingHit("amenities", "Amenities: Wireless Internet, Kitchen, Washer, Dryer, Hair dryer, Free parking on premises.")
	access := listingHit("access", "Parking: space 12 in the rear lot.")
	tests := []struct {
		q       string
		hits    []retrieval.Hit
		handoff bool
		want    string
		never   []string
	}{
		{"Is there a hair dryer?", []retrieval.Hit{listingHit("amenities", "Amenities: Wireless Internet, Kitchen, Washer, Dryer, Free parking on premises.")}, true, "", nil},
		{"Is there a hair dryer?", []retrieval.Hit{amenities}, false, "Amenities: Hair dryer.", []string{"Washer", "Dryer,"}},
		{"Is there a dryer?", []retrieval.Hit{amenities}, false, "Dryer", []string{"Washer", "Kitchen"}},
		{"Is there a washing machine?", []retrieval.Hit{amenities}, false, "Washer", []string{"Kitchen", "Dryer"}},
		{"Do you have a hair dryer?", []retrieval.Hit{listingHit("notes", "The dryer is in the laundry closet.")}, true, "", nil},
		{"Where do we park?", []retrieval.Hit{access, amenities}, false, "space 12", nil},
		{"Which amenities are there?", []retrieval.Hit{amenities}, false, "Wireless Internet, Kitchen, Washer", nil},
	}
	for _, tt := range tests {
		res := engine(t, &fakeIndex{hits: tt.hits}, nil).Answer(context.Background(),
			Request{Question: tt.q, Access: guests.Access{GuestID: "G"}, Now: time.Now()})
		if res.Handoff != tt.handoff {
			t.Errorf("%q: handoff %v (%s), want %v:\n%s", tt.q, res.Handoff, res.Reason, tt.handoff, res.Text)
			continue
		}
		if tt.handoff {
			if res.Reason != ReasonNothing {
				t.Errorf("%q: reason %q, want %q", tt.q, res.Reason, ReasonNothing)
			}
			continue
		}
		if !strings.Contains(res.Text, tt.want) {
			t.Errorf("%q: answer lacks %q:\n%s", tt.q, tt.want, res.Text)
		}
		for _, n := range tt.never {
			if strings.Contains(res.Text, n) {
				t.Errorf("%q: answer quotes %q:\n%s", tt.q, n, res.Text)
			}
		}
	}
}

// Every message the engine says is in the guest's language: answers, the
// secrets' window, the request for proof; a hand-off carries it for the
// acknowledgement.
func TestRepliesInTheGuestsLanguage(t *testing.T) {
	now := time.Date(2025, 7, 15, 12, 0, 0, 0, time.UTC)
	st := stay(now) // check-in in three days, Los Angeles
	tests := []struct {
		name, q, language string
		access            guests.Access
		unverified        bool
		want              string // the language of the result
		text              string // in the text
		handoff           bool
	}{
		{"answer from the reservation", "¿Cuándo tenemos que dejar la casa?", "", guests.Access{GuestID: "G", Stay: st}, false,
			lang.ES, "La salida (check-out) es el lunes 21 de julio, antes de las 05:00.", false},
		{"secrets later", "Wie lautet das WLAN-Passwort?", "", guests.Access{GuestID: "G", Stay: st}, false,
			lang.DE, "ab Donnerstag, 17. Juli, 05:00 Uhr PDT (24 Stunden vor dem Check-in)", false},
		{"proof first", "Qual è l'indirizzo?", "", guests.Access{}, true, lang.IT, lang.VerifyPrompt[lang.IT], false},
		// A question about the stay in words STAY_QUESTION_WORDS lacks:
		// the intent knows it is about the stay.
		{"proof first, asked in other words", "¿Cuándo tenemos que dejar la casa?", "", guests.Access{}, true, lang.ES, lang.VerifyPrompt[lang.ES], false},
		// The address asked without the word: the intent knows it is a secret.
		{"secrets later, asked in other words", "Wo liegt die Wohnung genau?", "", guests.Access{GuestID: "G", Stay: st}, false,
			lang.DE, "Zu Ihrer Sicherheit", false},
		{"hand-off", "Je voudrais être remboursé", "", guests.Access{GuestID: "G", Stay: st}, false, lang.FR, "restricted topic: refund", true},
		{"one word in the conversation's language", "wifi?", lang.PT, guests.Access{GuestID: "G", Stay: st}, false,
			lang.PT, "Para sua segurança", false},
		{"shared policy quoted in a French frame", "Les animaux sont-ils acceptés ?", "", guests.Access{GuestID: "G"}, false,
			lang.FR, "Concernant les animaux, nos règles générales indiquent (en anglais) : « Pets, dogs and cats included", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := engine(t, &fakeIndex{hits: []retrieval.Hit{sharedPets}}, nil)
			res := e.Answer(context.Background(), Request{Question: tt.q, Language: tt.language, Access: tt.access, Now: now, Unverified: tt.unverified})
			if res.Language != tt.want || res.Handoff != tt.handoff || !strings.Contains(res.Text, tt.text) {
				t.Errorf("got %s handoff=%v %q\nwant %s handoff=%v with %q", res.Language, res.Handoff, res.Text, tt.want, tt.handoff, tt.text)
			}
		})
	}
}

// With a model, nothing retrieved is no reason to hand off a guest with a
// stay: the model reads the stay and decides. Without a stay there is
// nothing to read.
func TestModelReadsTheStayWhenNothingIsRetrieved(t *testing.T) {
	now := time.Date(2025, 7, 15, 12, 0, 0, 0, time.UTC)
	reply := `{"answer":"Die Abreise ist am Samstag um 05:00.","language":"de","citations":["stay"],"needs_handoff":false,"reason":""}`
	t.Run("with a stay", func(t *testing.T) {
		m := &script{outs: []string{reply}}
		res := engine(t, &fakeIndex{}, m).Answer(context.Background(),
			Request{Question: "Wann genau ist unsere Abfahrt?", Access: guests.Access{GuestID: "G", Stay: stay(now)}, Now: now})
		if res.Handoff || len(m.calls) != 1 || res.Language != "de" || len(res.Citations) != 1 || res.Citations[0].ID != "stay" {
			t.Fatalf("got %+v after %d model calls", res, len(m.calls))
		}
		user := m.calls[0][1].Content
		for _, want := range []string{`"passages": []`, `"guest_language": "de"`, `"check_out": "Mon 21 Jul 2025 05:00 PDT"`} {
			if !strings.Contains(user, want) {
				t.Errorf("prompt lacks %s:\n%s", want, user)
			}
		}
	})
	t.Run("without a stay", func(t *testing.T) {
		m := &script{outs: []string{reply}}
		res := engine(t, &fakeIndex{}, m).Answer(context.Background(),
			Request{Question: "Gibt es eine Sauna?", Access: guests.Access{GuestID: "G"}, Now: now})
		if !res.Handoff || res.Reason != ReasonNothing || len(m.calls) != 0 {
			t.Fatalf("got %+v after %d model calls, want a hand-off without asking", res, len(m.calls))
		}
	})
	// The model decides: reading the stay, it may still hand off.
	t.Run("with a stay, the model hands off", func(t *testing.T) {
		m := &script{outs: []string{`{"answer":"","language":"de","citations":[],"needs_handoff":true,"reason":"not_in_context"}`}}
		res := engine(t, &fakeIndex{}, m).Answer(context.Background(),
			Request{Question: "Gibt es eine Sauna?", Access: guests.Access{GuestID: "G", Stay: stay(now)}, Now: now})
		if !res.Handoff || res.Reason != ReasonNotInData || len(m.calls) != 1 {
			t.Fatalf("got %+v after %d model calls, want the model's hand-off", res, len(m.calls))
		}
	})
	// Without a model nothing changes: the offline answerer quotes the stay
	// for what it knows and hands off the rest.
	t.Run("offline, with a stay", func(t *testing.T) {
		res := engine(t, &fakeIndex{}, nil).Answer(context.Background(),
			Request{Question: "Gibt es eine Sauna?", Access: guests.Access{GuestID: "G", Stay: stay(now)}, Now: now})
		if !res.Handoff || res.Reason != ReasonNothing {
			t.Fatalf("offline, nothing retrieved, a question the stay does not answer: %+v", res)
		}
	})
}
