package event

import "sync/atomic"

// sanitized and validated count the calls of Sanitize and Validate in this
// process.
var sanitized, validated atomic.Int64

// Checks reports how many envelopes this process stripped (Sanitize) and
// validated (Validate). The hook path strips and validates each payload once
// per process, whichever of the hook mapping or ingest does it; the tests of
// both count these calls to prove it.
func Checks() (sanitizedN, validatedN int64) { return sanitized.Load(), validated.Load() }
