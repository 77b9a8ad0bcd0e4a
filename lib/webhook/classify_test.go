package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/harborstays/concierge/lib/fault"
)

func TestClassify(t *testing.T) {
	pg := func(code string) error {
		return fmt.Errorf("store guesty reservation.new: %w", &pgconn.PgError{Severity: "ERROR", Code: code, Message: "refused"})
	}
	tests := []struct {
		name string
		err  error
		want fault.Kind
	}{
		{"untranslatable character", pg("22P05"), fault.Invalid},
		{"invalid byte sequence", pg("22021"), fault.Invalid},
		{"invalid text representation", pg("22P02"), fault.Invalid},
		{"string data right truncation", pg("22001"), fault.Invalid},
		{"connection failure", pg("08006"), fault.Unavailable},
		{"admin shutdown", pg("57P01"), fault.Unavailable},
		{"too many connections", pg("53300"), fault.Unavailable},
		{"unique violation stays internal", pg("23505"), fault.Internal},
		{"foreign key violation stays internal", pg("23503"), fault.Internal},
		{"not null violation", pg("23502"), fault.Invalid},
		{"check violation", pg("23514"), fault.Invalid},
		{"short code", pg("2"), fault.Internal},
		{"unexpected EOF", fmt.Errorf("store: failed to receive message: %w", io.ErrUnexpectedEOF), fault.Unavailable},
		{"EOF", fmt.Errorf("store: %w", io.EOF), fault.Unavailable},
		{"unexpected EOF as text", errors.New("store: read: unexpected EOF"), fault.Unavailable},
		{"conn closed", fmt.Errorf("store: %w", pgconn.ErrConnClosed), fault.Unavailable},
		{"deadline", fmt.Errorf("store: %w", context.DeadlineExceeded), fault.Unavailable},
		{"a fault keeps its kind", fault.New(fault.NotFound, "gone"), fault.NotFound},
		{"anything else", errors.New("bug"), fault.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(tt.err)
			if got := fault.KindOf(err); got != tt.want {
				t.Errorf("classify(%v) = %s, want %s", tt.err, got, tt.want)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("classify lost the cause")
			}
		})
	}
	if msg := fault.Public(classify(pg("22P05"))); msg != "a value in the body cannot be stored (SQLSTATE 22P05)" {
		t.Errorf("public message %q", msg)
	}
}
