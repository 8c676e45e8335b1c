// Command screenpop is the smallest useful CRM subscriber of callrelay: it
// pops the customer's record on the agent's screen once per call, when the
// phone rings or the call is answered.
//
// It reads the relay's JetStream stream with a durable consumer, filtered to
// the ringing and established events and the call view, and reads each
// message as a CloudEvent with the CloudEvents Go SDK: the relay sends the
// attributes as "ce-" headers (the NATS binding's binary mode), the JSON
// body is the event's data. A call pops as soon
// as a message says who the customer is (the talk details correlated on an
// event, or the call view's customer). Each pop is recorded in a NATS KV
// bucket under the call id before the message is acknowledged, so a restart,
// a redelivery or a second copy of this program never pops a call twice.
// The price: a crash between recording and printing loses that one pop; swap
// the two steps if a rare second pop is better than a missed one for you.
//
// Replace printPop with the call to your CRM.
//
//	go run ./examples/screenpop --nats-url nats://127.0.0.1:4222
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// config is what the program needs to know; every field has a flag.
type config struct {
	NatsURL string
	Stream  string // the relay's stream (--stream of the relay)
	Prefix  string // the relay's --subject-prefix
	Tenant  string // the relay's --tenant
	Durable string // the consumer's name: keep it, or the program starts over
	Bucket  string // the KV bucket of the calls already popped
	From    string // "new": only calls from the consumer's creation on; "all": the whole stream
}

func main() {
	var cfg config
	flag.StringVar(&cfg.NatsURL, "nats-url", envOr("NATS_URL", nats.DefaultURL), "NATS server URL(s) (env NATS_URL)")
	flag.StringVar(&cfg.Stream, "stream", "AGENTCALL", "the relay's JetStream stream")
	flag.StringVar(&cfg.Prefix, "subject-prefix", "agentcall", "the relay's subject prefix")
	flag.StringVar(&cfg.Tenant, "tenant", "default", "the relay's tenant")
	flag.StringVar(&cfg.Durable, "durable", "screenpop", "name of the durable consumer")
	flag.StringVar(&cfg.Bucket, "bucket", "screenpop", "KV bucket recording the calls popped")
	flag.StringVar(&cfg.From, "from", "new", "where a new consumer starts: new or all")
	flag.Parse()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, log); err != nil {
		log.Error("screenpop stopped", "err", err)
		os.Exit(1)
	}
}

// run consumes until ctx ends.
func run(ctx context.Context, cfg config, out io.Writer, log *slog.Logger) error {
	nc, err := nats.Connect(cfg.NatsURL, nats.Name("screenpop"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect to nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	setupCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	popped, err := js.CreateOrUpdateKeyValue(setupCtx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "calls screenpop has popped, by call id",
		TTL:         7 * 24 * time.Hour, // longer than any call, shorter than forever
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return fmt.Errorf("open kv bucket %s: %w", cfg.Bucket, err)
	}
	deliver := jetstream.DeliverNewPolicy
	if cfg.From == "all" {
		deliver = jetstream.DeliverAllPolicy
	}
	base := cfg.Prefix + "." + cfg.Tenant
	cons, err := js.CreateOrUpdateConsumer(setupCtx, cfg.Stream, jetstream.ConsumerConfig{
		Durable: cfg.Durable,
		FilterSubjects: []string{
			base + ".callBarEvent.EventRinging",
			base + ".callBarEvent.EventEstablished",
			base + ".call",
		},
		DeliverPolicy: deliver,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    20,
	})
	if err != nil {
		return fmt.Errorf("create consumer %s on stream %s: %w", cfg.Durable, cfg.Stream, err)
	}

	p := &popper{kv: popped, out: out, log: log}
	cc, err := cons.Consume(func(msg jetstream.Msg) { p.handle(ctx, msg) })
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	log.Info("screenpop ready", "stream", cfg.Stream, "consumer", cfg.Durable)
	<-ctx.Done()
	cc.Drain() // finish the messages in hand, then stop
	select {
	case <-cc.Closed():
	case <-time.After(10 * time.Second):
	}
	log.Info("screenpop stopped")
	return nil
}

// popper pops each call once.
type popper struct {
	kv  jetstream.KeyValue
	out io.Writer
	log *slog.Logger
}

// handle pops the message's call if it is the first message of the call
// that names the customer, then acknowledges it. A message that can never
// pop is acknowledged; a failure to record the pop asks for the message
// again.
func (p *popper) handle(ctx context.Context, msg jetstream.Msg) {
	pop, ok, err := read(ctx, msg)
	if err != nil {
		p.log.Warn("not a callrelay message, dropped", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	if !ok {
		_ = msg.Ack() // nothing to pop yet: no customer, or not ringing/established
		return
	}
	_, err = p.kv.Create(ctx, callKey(pop.callID), []byte(time.Now().UTC().Format(time.RFC3339)))
	switch {
	case errors.Is(err, jetstream.ErrKeyExists):
		_ = msg.Ack() // popped already, by us before a restart or by another copy
		return
	case err != nil:
		p.log.Warn("record pop", "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	printPop(p.out, pop)
	if err := msg.DoubleAck(ctx); err != nil {
		// The pop is recorded: a redelivery is acknowledged without popping.
		p.log.Warn("ack", "err", err)
	}
}

// pop is what the CRM needs to open the customer's record.
type pop struct {
	callID, partnerID, phone, agent string
}

// printPop is where a real service calls its CRM.
func printPop(w io.Writer, p pop) {
	who := p.partnerID
	if who == "" {
		who = "-"
	}
	if p.phone != "" {
		who += " / " + maskPhone(p.phone)
	}
	agent := p.agent
	if agent == "" {
		agent = "(unknown)"
	}
	fmt.Fprintf(w, "pop customer %s for agent %s (call %s)\n", who, agent, p.callID)
}

// message holds the fields of the relay's published events and call views
// that a pop needs (README, "Subjects"; events/schema in the repository).
type message struct {
	CallID string `json:"callId"`
	State  string `json:"state"` // call views
	Agent  *struct {
		Email string `json:"email"`
	} `json:"agent"`
	Talk     map[string]any `json:"talk"`     // events: the call's iframeParams params
	Customer map[string]any `json:"customer"` // call views
}

// The CloudEvents types of the messages screenpop reads (README, "Subjects").
const (
	typeRinging     = "com.sobot.agentcall.callBarEvent.EventRinging"
	typeEstablished = "com.sobot.agentcall.callBarEvent.EventEstablished"
	typeCall        = "com.sobot.agentcall.call"
)

// read turns msg into a CloudEvent with the SDK and decodes it; ok is true
// when it can pop a call.
func read(ctx context.Context, msg jetstream.Msg) (pop, bool, error) {
	e, err := binding.ToEvent(ctx, natsMessage{msg})
	if err != nil {
		return pop{}, false, fmt.Errorf("read as a cloudevent: %w", err)
	}
	if err := e.Validate(); err != nil {
		return pop{}, false, fmt.Errorf("invalid cloudevent: %w", err)
	}
	return decode(e)
}

// decode reads an event; ok is true when it can pop a call.
func decode(e *event.Event) (pop, bool, error) {
	var m message
	if err := e.DataAs(&m); err != nil {
		return pop{}, false, err
	}
	if e.Subject() == "" || e.Subject() != m.CallID {
		return pop{}, false, errors.New("no call id in the CloudEvents subject and the body's callId")
	}
	switch e.Type() {
	case typeRinging, typeEstablished:
	case typeCall:
		if m.State != "ringing" && m.State != "established" {
			return pop{}, false, nil
		}
	default:
		return pop{}, false, nil
	}
	customer := m.Customer
	if customer == nil {
		customer = m.Talk
	}
	p := pop{callID: m.CallID, partnerID: text(customer["partnerId"]), phone: text(customer["uphone"])}
	if p.phone == "" && text(customer["encryptUphone"]) != "" {
		p.phone = "(encrypted)"
	}
	if m.Agent != nil {
		p.agent = m.Agent.Email
	}
	if p.agent == "" {
		p.agent = text(m.Talk["email"])
	}
	return p, p.partnerID != "" || p.phone != "", nil
}

// text returns a JSON string or number as text, and "" for anything else.
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return fmt.Sprint(v)
	}
	return ""
}

// maskPhone keeps the first three and last four digits of a number, as the
// workbench does when it masks one itself.
func maskPhone(s string) string {
	if strings.Contains(s, "*") || strings.HasPrefix(s, "(") || strings.HasPrefix(s, "pn_") {
		return s // masked already, or a relay's pseudonym (docs/privacy.md)
	}
	if len(s) < 8 {
		return strings.Repeat("*", max(len(s)-2, 0)) + s[max(len(s)-2, 0):]
	}
	return s[:3] + "****" + s[len(s)-4:]
}

var keySafe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)

// callKey is the KV key of a call: its id when it is a valid key, else the
// id in hex.
func callKey(callID string) string {
	if keySafe.MatchString(callID) {
		return "call." + callID
	}
	return "callhex." + hex.EncodeToString([]byte(callID))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
