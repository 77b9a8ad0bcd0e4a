// Package payload turns a request body into a typed, validated value: one
// JSON value, no trailing data, and errors that name the failing field by its
// JSON path (a fault.Invalid, which the function edge answers with 400).
// Webhook sources and the function runtime share it, so a 400 reads the same
// whoever decoded the body.
package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"

	"github.com/harborstays/concierge/lib/fault"
)

// validate is built on first use: a function that only unmarshals (the
// job runner's signed messages) then never reaches validator's traversal,
// whose reflect.Value.MethodByName with a computed name makes the linker
// keep every exported method of every reachable type (1–7 MB a binary).
// Nothing at package level may name it, or every importer links it.
var (
	validateOnce sync.Once
	validate     *validator.Validate
)

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	// Name fields by their JSON names so a 400 points at the payload.
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		if name == "" {
			return f.Name
		}
		return name
	})
	return v
}

// Validate runs validator/v10 on v and returns an Invalid fault that names
// the first failing field by its JSON path.
func Validate(v any) error {
	validateOnce.Do(func() { validate = newValidator() })
	err := validate.Struct(v)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) || len(ves) == 0 {
		return fault.Wrap(fault.Invalid, err, "invalid payload")
	}
	fe := ves[0]
	// Namespace is "Type.a.b"; drop the Go type name.
	field := fe.Namespace()
	if _, rest, ok := strings.Cut(field, "."); ok {
		field = rest
	}
	return fault.Field(field, "%s", describe(fe))
}

func describe(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "oneof":
		return "must be one of " + fe.Param()
	case "min":
		return "must be at least " + fe.Param()
	case "max":
		return "must be at most " + fe.Param()
	case "datetime":
		return "must be a date/time in the form " + fe.Param()
	default:
		if fe.Param() != "" {
			return "failed " + fe.Tag() + "=" + fe.Param()
		}
		return "failed " + fe.Tag()
	}
}

// Decode parses body as a single JSON value into v and validates it. Type
// errors name the field too.
func Decode(body []byte, v any) error {
	if err := Unmarshal(body, v); err != nil {
		return err
	}
	return Validate(v)
}

// Unmarshal parses body as a single JSON value into v without validating.
func Unmarshal(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fault.New(fault.Invalid, "empty body; expected JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fault.Field(te.Field, "must be %s, got %s", te.Type.String(), te.Value)
		}
		return fault.Wrap(fault.Invalid, err, "malformed JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fault.New(fault.Invalid, "malformed JSON: trailing data after the object")
	}
	return nil
}
