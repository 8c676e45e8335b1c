package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The floor rows measure what any relay must spend, whatever it does with
// an event: `relay bench-floor` speaks just enough of the relay's WebSocket
// protocol for the bench's agents (hello, welcome, event, ack) and does
// nothing else. In "echo" mode it answers every event at once, without
// NATS: the cost of the WebSocket alone. In "carry" mode it publishes each
// event's data unchanged to JetStream (nats.go's asynchronous publish with
// the event id as Nats-Msg-Id), waits for the PubAck on the connection's
// own goroutine and then answers: the cost of carrying an event from a
// WebSocket into a stream with the NATS client, with no validation,
// correlation or headers. No real relay can be cheaper than these rows.
const (
	FloorEcho  = "echo"
	FloorCarry = "carry"
)

// FloorConfig is the server `relay bench-floor` runs.
type FloorConfig struct {
	Addr    string // 127.0.0.1:port
	NATSURL string // carry mode only
	Mode    string // FloorEcho or FloorCarry
}

// floorSubject is where carry mode publishes: the subject the relay would
// use for the bench's EventEstablished.
const floorSubject = "agentcall.default.callBarEvent.EventEstablished"

// ServeFloor serves the floor server until ctx ends: /v1/ws, /readyz and
// /metrics (the Go runtime's metrics, for the bench's allocation count).
// It writes "ready" to out once it listens.
func ServeFloor(ctx context.Context, cfg FloorConfig, out io.Writer) error {
	var js jetstream.JetStream
	switch cfg.Mode {
	case FloorEcho:
	case FloorCarry:
		nc, err := nats.Connect(cfg.NATSURL, nats.Name("callrelay-bench-floor"))
		if err != nil {
			return fmt.Errorf("bench floor: connect to %s: %w", cfg.NATSURL, err)
		}
		defer nc.Close()
		if js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1<<16),
			jetstream.WithPublishAsyncTimeout(5*time.Second)); err != nil {
			return fmt.Errorf("bench floor: %w", err)
		}
	default:
		return fmt.Errorf("bench floor: --mode %q: want %s or %s", cfg.Mode, FloorEcho, FloorCarry)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("bench floor: %w", err)
	}
	up := websocket.Upgrader{ReadBufferSize: 2048, WriteBufferSize: 1024}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/v1/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		floorConn(c, js)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if _, err := fmt.Fprintln(out, "ready"); err != nil {
		return err
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("bench floor: %w", err)
	}
	return nil
}

// floorConn serves one connection, one event at a time: read, publish and
// await the PubAck when js is set, answer.
func floorConn(c *websocket.Conn, js jetstream.JetStream) {
	if _, _, err := c.ReadMessage(); err != nil { // hello
		return
	}
	if c.WriteMessage(websocket.TextMessage, []byte(`{"type":"welcome","session":"floor"}`)) != nil {
		return
	}
	msg := &nats.Msg{Subject: floorSubject, Header: nats.Header{}}
	var ack []byte
	for {
		_, frame, err := c.ReadMessage()
		if err != nil {
			return
		}
		id, data, ok := floorEvent(frame)
		if !ok {
			return
		}
		status := "published"
		if js != nil {
			msg.Header.Set(nats.MsgIdHdr, string(id))
			msg.Data = data
			f, err := js.PublishMsgAsync(msg)
			if err != nil {
				return
			}
			select {
			case <-f.Ok():
			case <-f.Err(): // a PubAck error, or none within the timeout
				status = "failed"
			}
		}
		ack = append(ack[:0], `{"type":"ack","id":"`...)
		ack = append(ack, id...)
		ack = append(ack, `","status":"`...)
		ack = append(ack, status...)
		ack = append(ack, `"}`...)
		if c.WriteMessage(websocket.TextMessage, ack) != nil {
			return
		}
	}
}

// floorEvent finds the id and the data of a frame the bench wrote
// (appendFrame): `{"type":"event","id":"<id>","seenAt":<n>,"data":<data>}`.
func floorEvent(frame []byte) (id, data []byte, ok bool) {
	const idKey, dataKey = `"id":"`, `,"data":`
	i := bytes.Index(frame, []byte(idKey))
	if i < 0 {
		return nil, nil, false
	}
	rest := frame[i+len(idKey):]
	j := bytes.IndexByte(rest, '"')
	k := bytes.Index(frame, []byte(dataKey))
	if j < 0 || k < 0 || len(frame) < k+len(dataKey)+1 {
		return nil, nil, false
	}
	return rest[:j], frame[k+len(dataKey) : len(frame)-1], true
}
