package event

import (
	"fmt"
	"slices"
	"strings"
)

// Observation types. The named ones are claude-mem's code mode's; the set
// is open: any name of the same shape is a type too (claude-mem's other
// modes define their own, a user's memory may carry others), so a type is
// checked for its shape, in this one place (docs/ARCHITECTURE.md §17).
const (
	TypeBugfix        = "bugfix"
	TypeFeature       = "feature"
	TypeRefactor      = "refactor"
	TypeChange        = "change"
	TypeDiscovery     = "discovery"
	TypeDecision      = "decision"
	TypeSecurityAlert = "security_alert"
	TypeSecurityNote  = "security_note"
	TypeSensitive     = "sensitive"
)

// ObservationTypes are the types the observer is asked for and the context
// legend shows, claude-mem's code mode's, in its order.
var ObservationTypes = []string{TypeBugfix, TypeFeature, TypeRefactor, TypeChange, TypeDiscovery, TypeDecision,
	TypeSecurityAlert, TypeSecurityNote, TypeSensitive}

// MaxObservationTypeLen bounds an observation type's name.
const MaxObservationTypeLen = 32

// ObservationTypeShape says which names are observation types, for errors.
var ObservationTypeShape = fmt.Sprintf("1-%d characters of a-z, 0-9, '_' and '-', starting with a letter (claude-mem's: %s)",
	MaxObservationTypeLen, strings.Join(ObservationTypes, ", "))

// CheckObservationType returns nil when t is an observation type, else why
// not, naming the shape allowed.
func CheckObservationType(t string) error {
	if slices.Contains(ObservationTypes, t) {
		return nil
	}
	if t == "" {
		return fmt.Errorf("type is empty; a type is %s", ObservationTypeShape)
	}
	if len(t) > MaxObservationTypeLen || !(t[0] >= 'a' && t[0] <= 'z') {
		return fmt.Errorf("type %q is not %s", t, ObservationTypeShape)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("type %q is not %s", t, ObservationTypeShape)
		}
	}
	return nil
}

// ValidObservationType reports whether t is an observation type.
func ValidObservationType(t string) bool { return CheckObservationType(t) == nil }
