package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrMalformed is wrapped when a body is not one well-formed JSON object.
var ErrMalformed = errors.New("malformed JSON")

// decodeOne decodes exactly one JSON value into v and rejects trailing data.
// Unknown fields are an error only when known is set.
func decodeOne(data []byte, v any, known bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if known {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return &FieldError{Field: typeErr.Field, Reason: fmt.Sprintf("has the wrong type: want %s", typeErr.Type), Kind: ErrInvalid}
		}
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data after the JSON value", ErrMalformed)
	}
	return nil
}

// DecodeBatch parses a JSON array of envelopes (or an object {"events": [...]}).
func DecodeBatch(data []byte) ([]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(data)
	var raw []json.RawMessage
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var wrapped struct {
			Events []json.RawMessage `json:"events"`
		}
		if err := decodeOne(trimmed, &wrapped, false); err != nil {
			return nil, err
		}
		raw = wrapped.Events
	} else if err := decodeOne(trimmed, &raw, false); err != nil {
		return nil, err
	}
	return raw, nil
}
