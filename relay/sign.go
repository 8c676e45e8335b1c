package relay

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callrelay/callrelay/events"
)

// signCheck is how the pipeline checks the Sobot sign of talk details
// (Config.SignMode); the zero value checks nothing.
type signCheck struct {
	mode   string // SignMark or SignRequire; "" or SignOff: no check
	key    events.SignKey
	checks [4]prometheus.Counter // by events.SignVerdict
}

// newSignCheck makes the check of cfg and registers its counter.
func newSignCheck(cfg Config, reg prometheus.Registerer) (signCheck, error) {
	sc := signCheck{mode: cfg.SignMode, key: events.SignKey{SysNum: cfg.SobotSysNum, Key: cfg.SobotKey, Window: cfg.SignWindow}}
	if sc.mode == SignOff {
		return sc, nil
	}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callrelay_sign_checks_total",
		Help: "Talk details whose Sobot sign was checked, by result (verified, absent, stale, invalid).",
	}, []string{"result"})
	if err := reg.Register(vec); err != nil {
		return sc, err
	}
	for v, name := range [...]string{events.SignAbsent: "absent", events.SignVerified: "verified", events.SignStale: "stale", events.SignInvalid: "invalid"} {
		sc.checks[v] = vec.WithLabelValues(name)
	}
	return sc, nil
}

// checkSign checks the sign of talk details, on the values as received
// (before any redaction), at the time the relay received them. It returns
// the Event.Signature to publish ("" when signs are not checked), or false
// when the event was refused (require mode): it is then recorded on the
// rejected subject and answered retry:false. The sign is never logged.
func (p *pipeline) checkSign(in incoming, s *slot, seenAt *time.Time, msg *events.Message) (string, bool) {
	sc := &p.sign
	if (sc.mode != SignMark && sc.mode != SignRequire) || msg.Type != events.TypeIframeParams {
		return "", true
	}
	v := sc.key.Check(msg, in.receivedAt)
	sc.checks[v].Inc()
	if v == events.SignVerified || sc.mode == SignMark {
		return v.Signature(), true
	}
	switch v {
	case events.SignStale:
		p.refuse(in, s, seenAt, events.Errorf(CodeStaleSign, "params.timestamp is missing or more than %s from the relay's clock", sc.key.Window))
	case events.SignAbsent:
		p.refuse(in, s, seenAt, events.Errorf(CodeInvalidSign, "the talk details carry no params.sign, which this relay requires"))
	default:
		p.refuse(in, s, seenAt, events.Errorf(CodeInvalidSign, "params.sign does not match the talk details"))
	}
	return "", false
}
