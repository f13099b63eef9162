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

// decodeStrict decodes exactly one JSON value into v and rejects trailing data.
// Unknown fields are accepted so that a newer hook can talk to an older ingest.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
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
		if err := decodeStrict(trimmed, &wrapped); err != nil {
			return nil, err
		}
		raw = wrapped.Events
	} else if err := decodeStrict(trimmed, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}
