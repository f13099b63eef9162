package event_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// Every event carries a ULID: its first ten characters are its time, so IDs
// sort by time and IDTime reads the time back.
func ExampleNewIDAt() {
	at := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	id := event.NewIDAt(at)
	back, ok := event.IDTime(id)
	fmt.Println(len(id), ok, back.UTC().Equal(at), event.ValidEventID(id))
	// Output: 26 true true true
}

// An event made again from the same inputs (a replayed dead letter, a stop the
// reaper synthesises) gets the same ID, so the broker dedupes it (the value
// is checked against an independent encoding of the same 128 bits).
func ExampleIDFrom() {
	at := time.UnixMilli(1_700_000_000_000)
	seed := []byte("0123456789")
	fmt.Println(event.IDFrom(at, seed))
	fmt.Println(event.IDFrom(at, seed) == event.IDFrom(at, seed))
	// Output:
	// 01HF7YAT0060RK4CSM6MV3EE1S
	// true
}

// Validate names the field at fault, so ingest can answer a clear 4xx.
func ExampleEnvelope_Validate() {
	e := &event.Envelope{
		EventID: event.NewID(), SessionID: "s1", Kind: event.KindUserPrompt,
		At: time.Now(), Prompt: "fix the login bug",
	}
	fmt.Println(e.Validate(event.DefaultLimits))
	e.SessionID = ""
	var fe *event.FieldError
	err := e.Validate(event.DefaultLimits)
	fmt.Println(errors.As(err, &fe), fe.Field, fe.Missing)
	// Output:
	// <nil>
	// true session_id true
}

// Private and injected text never reaches memory: StripTags removes it with
// its tags, wherever it stands.
func ExampleStripTags() {
	s, removed := event.StripTags("deploy with <private>hunter2</private>the usual key")
	fmt.Printf("%q %v\n", s, removed)
	fmt.Println(event.IsEntirelyPrivate("<private>all of it</private>"))
	// Output:
	// "deploy with the usual key" true
	// true
}
