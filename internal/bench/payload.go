package bench

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"time"
)

// directSubject is where the direct NATS paths publish: the subject the
// relay gives an EventEstablished of the default tenant.
const directSubject = "agentcall.default.callBarEvent.EventEstablished"

// The fixed values of the payloads. attachedData is a JSON string, as the
// vendor sends it, and pads an EventEstablished's data to about 735 bytes.
const (
	companyID     = "10042"
	customerPhone = "15812342496"
	serviceNumber = "4008001234"
	attachedData  = `{\"orderNo\":\"SO1121187\"}`
)

// lifecycleSteps is the number of messages of one call in the lifecycle mix.
const lifecycleSteps = 5

// lifecycleStep names step i of a call in the lifecycle mix: ringing, talk
// details, established, released, deleted.
func lifecycleStep(i int) string {
	switch i {
	case 0:
		return "EventRinging"
	case 1:
		return "iframeParams"
	case 2:
		return "EventEstablished"
	case 3:
		return "EventReleased"
	default:
		return "EventCallDeleted"
	}
}

// creationClock hands out creationTime values: unique and increasing over
// every agent of a scenario, so that no two events are the same vendor event.
type creationClock struct{ next atomic.Int64 }

// newCreationClock starts at the current time in milliseconds.
func newCreationClock() *creationClock {
	c := &creationClock{}
	c.next.Store(time.Now().UnixMilli())
	return c
}

// tick returns the next creationTime.
func (c *creationClock) tick() int64 { return c.next.Add(1) }

// generator makes the events of one agent: EventEstablished events of one
// fixed call, or the call lifecycle mix with a new call every five events.
// Ids are "<tag>-<agent>-<seq>", unique over the run because every scenario
// gets its own tag. A generator belongs to one goroutine.
type generator struct {
	tag   string
	agent int
	mix   bool
	clock *creationClock

	agentID, agentUUID, dn, email string

	seq    int
	calls  int
	callID string
	sign   string
}

// newGenerator returns the generator of agent number agent in the scenario
// tagged tag.
func newGenerator(tag string, agent int, mix bool, clock *creationClock) *generator {
	g := &generator{
		tag: tag, agent: agent, mix: mix, clock: clock,
		agentID:   strconv.Itoa(1000 + agent),
		agentUUID: hexDigest("agent-" + strconv.Itoa(agent)),
		dn:        strconv.Itoa(8000 + agent),
		email:     "agent" + strconv.Itoa(agent) + "@callcenter.example.com",
	}
	g.newCall()
	return g
}

// newCall starts the agent's next call.
func (g *generator) newCall() {
	g.calls++
	g.callID = g.tag + "-" + strconv.Itoa(g.agent) + "-c" + strconv.Itoa(g.calls)
	g.sign = hexDigest(g.callID + g.email)
}

// next appends the next event's data (the workbench's event.data JSON) to b
// and returns its id and the extended slice.
func (g *generator) next(b []byte) (string, []byte) {
	kind := "EventEstablished"
	if g.mix {
		step := g.seq % lifecycleSteps
		if step == 0 && g.seq > 0 {
			g.newCall()
		}
		kind = lifecycleStep(step)
	}
	g.seq++
	id := g.tag + "-" + strconv.Itoa(g.agent) + "-" + strconv.Itoa(g.seq)
	if kind == "iframeParams" {
		return id, g.appendTalkDetails(b)
	}
	return id, g.appendCallBar(b, kind)
}

// appendCallBar appends a callBarEvent; EventEstablished carries the
// location and the queues besides the talk fields.
func (g *generator) appendCallBar(b []byte, messageID string) []byte {
	b = append(b, `{"source":"agentCall","type":"callBarEvent","params":{"messageID":"`...)
	b = append(b, messageID...)
	b = appendStr(b, "callID", g.callID)
	b = append(b, `","creationTime":`...)
	b = strconv.AppendInt(b, g.clock.tick(), 10)
	b = append(b, `,"companyId":"`+companyID...)
	b = appendStr(b, "referenceID", strconv.Itoa(g.seq))
	b = appendStr(b, "partyID", g.dn+"-1")
	b = append(b, `","callType":"Inbound","partyRole":"Agent","ANI":"`+customerPhone+`","DNIS":"`+serviceNumber...)
	b = appendStr(b, "thisDN", g.dn)
	b = append(b, `","otherDN":"`+customerPhone+`","thisDNRole":"Destination","otherDNRole":"Origination`...)
	b = appendStr(b, "agentID", g.agentID)
	b = appendStr(b, "agentUUID", g.agentUUID)
	if messageID == "EventEstablished" {
		b = append(b, `","province":"Guangdong","city":"Shenzhen"`...)
		b = append(b, `,"firstDistributedQueueUUID":"q6f1d2c3b4a59","firstDistributedQueueId":"2001","firstDistributedQueueName":"Sales"`...)
		b = append(b, `,"lastDistributedQueueUUID":"q7a2e3d4c5b6a","lastDistributedQueueId":"2002","lastDistributedQueueName":"VIP`...)
	}
	b = append(b, `","attachedData":"`+attachedData+`"}}`...)
	return b
}

// appendTalkDetails appends the call's iframeParams (talk details) message.
func (g *generator) appendTalkDetails(b []byte) []byte {
	now := time.Now().UnixMilli()
	b = append(b, `{"source":"agentCall","type":"iframeParams","params":{"partnerId":"crm-`...)
	b = append(b, g.callID...)
	b = appendStr(b, "uid", "u"+g.callID)
	b = append(b, `","uemail":"customer@example.com`...)
	b = appendStr(b, "email", g.email)
	b = appendStr(b, "sign", g.sign)
	b = append(b, `","timestamp":`...)
	b = strconv.AppendInt(b, now, 10)
	b = append(b, `,"uphone":"158****2496","encryptUphone":"9b1f0c2e7d4a6b3c8e5f1a2d`...)
	b = append(b, `","gatewayNumber":"`+serviceNumber+`","callType":2,"callId":"`...)
	b = append(b, g.callID...)
	b = append(b, `","province":"Guangdong","city":"Shenzhen","startTime":`...)
	b = strconv.AppendInt(b, now, 10)
	b = append(b, `,"crmTicket":"T-`...)
	b = append(b, g.callID...)
	b = append(b, `","customerLevel":"gold"}}`...)
	return b
}

// appendStr closes the previous string value and appends `","key":"value`;
// the caller closes the last value. Values are plain ASCII, never escaped.
func appendStr(b []byte, key, value string) []byte {
	b = append(b, `","`...)
	b = append(b, key...)
	b = append(b, `":"`...)
	return append(b, value...)
}

// appendFrame appends a WebSocket event frame carrying data.
func appendFrame(b []byte, id string, data []byte) []byte {
	b = append(b, `{"type":"event","id":"`...)
	b = append(b, id...)
	b = append(b, `","seenAt":`...)
	b = strconv.AppendInt(b, time.Now().UnixMilli(), 10)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	return append(b, '}')
}

// hexDigest is a stable 32-hex-digit value derived from s.
func hexDigest(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
