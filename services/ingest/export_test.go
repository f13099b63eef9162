package ingest

// Prepared returns how many envelopes the server stripped and validated.
func (s *Server) Prepared() int64 { return s.prepared.Load() }
