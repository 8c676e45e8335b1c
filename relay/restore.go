package relay

import "github.com/callrelay/callrelay/correlate"

// Replay returns a correlate.Replay that rebuilds the relay's memory state
// (calls, agents, content keys, the id window) from the messages it
// published before a restart, read back from its stream. Feed it and
// finish it before Serve. It fails when the state is shared.
func (s *Server) Replay() (*correlate.Replay, error) {
	return correlate.NewReplay(s.p.corr, s.p.dedup, correlate.ReplaySubjects{
		Call:     s.p.subjects.Call(),
		Rejected: s.p.subjects.Rejected(),
		Prefix:   s.p.subjects.Prefix, // tenants from tokens are restored too
	})
}
