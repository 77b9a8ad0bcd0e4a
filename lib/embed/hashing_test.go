package embed

import (
	"math"
	"slices"
	"testing"
)

func cosine(a, b []float32) float64 {
	var dot float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
	}
	return dot
}

func TestHashingShape(t *testing.T) {
	h := NewHashing(0)
	if h.Dimensions() != HashingDimensions || h.Model() != "hashing-v1-256" {
		t.Errorf("default: %d dims, model %s", h.Dimensions(), h.Model())
	}
	vecs, err := h.Embed(t.Context(), []string{"Quiet hours are from 10 pm to 8 am.", "", "?!", "the"})
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, x := range vecs[0] {
		n += float64(x) * float64(x)
	}
	if len(vecs[0]) != 256 || math.Abs(n-1) > 1e-5 {
		t.Errorf("not a unit vector of 256: len %d, norm² %g", len(vecs[0]), n)
	}
	for i, text := range []string{"", "?!"} {
		if slices.ContainsFunc(vecs[i+1], func(x float32) bool { return x != 0 }) {
			t.Errorf("%q: want the zero vector", text)
		}
	}
	// A text of stopwords alone still means something.
	if !slices.ContainsFunc(vecs[3], func(x float32) bool { return x != 0 }) {
		t.Error(`"the": zero vector`)
	}
	if got := NewHashing(64).Vector("quiet hours"); len(got) != 64 {
		t.Errorf("64 dims: %d", len(got))
	}
}

// The vectors are stored in Qdrant: the same text must give the same vector
// across runs and releases (up to the last bits, which Go may round
// differently on another architecture). A change here means re-indexing,
// and a new Model version.
func TestHashingIsStable(t *testing.T) {
	h := NewHashing(0)
	a := h.Vector("Wifi network: SeaviewCottage. Wifi password: gulls-and-tides-42.")
	for range 20 {
		if b := h.Vector("Wifi network: SeaviewCottage. Wifi password: gulls-and-tides-42."); !slices.Equal(a, b) {
			t.Fatal("two calls differ")
		}
	}
	var sum float64
	nonzero := 0
	for i, x := range a {
		sum += float64(x) * float64(i+1)
		if x != 0 {
			nonzero++
		}
	}
	if nonzero != goldenNonzero || math.Abs(sum-goldenSum) > 1e-3 {
		t.Errorf("vector fingerprint changed: %d non-zero, weighted sum %.6f (want %d, %.6f)", nonzero, sum, goldenNonzero, goldenSum)
	}
}

func TestHashingSimilarity(t *testing.T) {
	h := NewHashing(0)
	tests := []struct {
		query, near, far string
	}{
		{"where do I park", "Parking: one free parking space on the gravel drive.", "Wifi password: gulls-and-tides-42."},
		{"wifi password", "Wi-Fi network HarborLoft, password marina-lights", "Quiet hours are from 10 pm to 8 am."},
		{"What time is check-in?", "Check-in time is 4 pm and check-out time is 10 am.", "Pets: dogs are welcome in pet-friendly listings."},
		{"café nearby", "The harbour cafe is a five-minute walk.", "The router is in the hall cupboard."},
		{"QUIET HOURS", "quiet hours", "hot tub"},
	}
	for _, tt := range tests {
		q := h.Vector(tt.query)
		near, far := cosine(q, h.Vector(tt.near)), cosine(q, h.Vector(tt.far))
		if near <= far {
			t.Errorf("%q: %.3f to %q, %.3f to %q", tt.query, near, tt.near, far, tt.far)
		}
	}
	if s := cosine(h.Vector("Quiet hours!"), h.Vector("quiet   HOURS")); math.Abs(s-1) > 1e-5 {
		t.Errorf("case and punctuation matter: %.4f", s)
	}
}

func TestStem(t *testing.T) {
	tests := map[string]string{
		"parking": "park", "park": "park", "hours": "hour", "guests": "guest",
		"amenities": "amenity", "running": "run", "falling": "fall", "allowed": "allow",
		"classes": "class", "bus": "bus", "this": "this", "wifi": "wifi", "bed": "bed", "ring": "ring",
	}
	for in, want := range tests {
		if got := Stem(in); got != want {
			t.Errorf("Stem(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWords(t *testing.T) {
	tests := map[string][]string{
		"Check-in at 4 PM":     {"check", "in", "checkin", "at", "4", "pm"},
		"Wi-Fi: HarborLoft-5G": {"wi", "fi", "wifi", "harborloft", "5g", "harborloft5g"},
		"Café Ærø naïve":       {"cafe", "ærø", "naive"},
		"don't  -- stop":       {"don", "t", "dont", "stop"},
		"ｆｕｌｌｗｉｄｔｈ":            {"fullwidth"},
		"":                     nil,
	}
	for in, want := range tests {
		if got := Words(in); !slices.Equal(got, want) {
			t.Errorf("Words(%q) = %q, want %q", in, got, want)
		}
	}
}

const (
	goldenNonzero = 59
	goldenSum     = 54.894743
)
