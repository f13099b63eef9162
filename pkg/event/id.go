package event

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// crockford is the ULID alphabet (Crockford's base32).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a new ULID: 48 bits of milliseconds then 80 random bits, as 26
// characters that sort by time. It is a valid NATS message ID and event ID.
func NewID() string { return NewIDAt(time.Now()) }

// NewIDAt returns a ULID for the given time.
func NewIDAt(t time.Time) string {
	b := ulidTime(t)
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never returns an error (Go ≥ 1.24)
	return encodeULID(b)
}

// IDFrom returns a ULID whose time is t and whose 80 random bits are the
// first 10 bytes of seed: the same inputs give the same ID, so an event made
// again (a replayed dead letter, an idle session's stop) dedupes in the broker.
func IDFrom(t time.Time, seed []byte) string {
	b := ulidTime(t)
	copy(b[6:], seed)
	return encodeULID(b)
}

// ulidTime returns a ULID's 16 bytes with the first 48 bits set to t's milliseconds.
func ulidTime(t time.Time) [16]byte {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	b[0] = byte(ms >> 40)
	b[1] = byte(ms >> 32)
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	return b
}

func encodeULID(b [16]byte) string {
	// 128 bits as 26 base32 characters: the first holds 3 bits.
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// IDTime returns the time encoded in a ULID, and false if id is not one.
func IDTime(id string) (time.Time, bool) {
	if len(id) != 26 {
		return time.Time{}, false
	}
	var ms uint64
	for i := 0; i < 10; i++ {
		v := indexCrockford(id[i])
		if v < 0 {
			return time.Time{}, false
		}
		ms = ms<<5 | uint64(v)
	}
	// The first 10 characters hold the 48-bit timestamp (the first one only 3 bits).
	return time.UnixMilli(int64(ms)), true
}

func indexCrockford(c byte) int {
	for i := 0; i < len(crockford); i++ {
		if crockford[i] == c {
			return i
		}
	}
	return -1
}
