package speech

import (
	"math"
	"testing"
)

func TestWER(t *testing.T) {
	tests := []struct {
		name, ref, hyp string
		want           float64
	}{
		{"identical", "What time can we check in", "what time can we check in", 0},
		{"punctuation and case ignored", "Where's the car park?", "where's the CAR park", 0},
		{"one substitution", "where do we park the car", "where do we parked the car", 1.0 / 6},
		{"one deletion", "check in at three", "check at three", 1.0 / 4},
		{"one insertion", "check in at three", "check in at the three", 1.0 / 4},
		{"all wrong", "hello there", "goodbye", 1},
		{"empty hypothesis", "hello there", "", 1},
		{"empty both", "", "", 0},
		{"empty reference", "", "noise", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WER(tt.ref, tt.hyp); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("WER(%q, %q) = %.3f, want %.3f", tt.ref, tt.hyp, got, tt.want)
			}
		})
	}
}
