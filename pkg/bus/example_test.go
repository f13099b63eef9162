package bus_test

import (
	"fmt"

	"github.com/mnemo-dev/mnemo/pkg/bus"
)

// A session's events are published on one subject and stored, after the
// stream's transform, under its partition (docs/ARCHITECTURE.md §4).
func ExampleStoredSubject() {
	fmt.Println(bus.PublishSubject("s1"))
	stored := bus.StoredSubject("s1", 64)
	fmt.Println(stored)
	sid, ok := bus.SessionOfSubject(stored)
	fmt.Println(sid, ok)
	// Output:
	// mnemo.ev.s1
	// mnemo.ev.9.s1
	// s1 true
}

// Query publishes a session's abort; every worker subscribes to AbortFilter
// and reads the session back from the subject.
func ExampleAbortSubject() {
	subj := bus.AbortSubject("s1")
	fmt.Println(subj, bus.AbortFilter)
	fmt.Println(bus.SessionOfAbort(subj))
	fmt.Println(bus.SessionOfAbort("mnemo.ctl.abort."))
	// Output:
	// mnemo.ctl.abort.s1 mnemo.ctl.abort.*
	// s1 true
	//  false
}
