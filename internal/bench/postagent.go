package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxAnswerBytes bounds the POST answer the bench reads.
const maxAnswerBytes = 4 << 20

// postAgent is a client of POST /v1/events, like sendBeacon with a backlog:
// it posts batches of postBatch events one after another, each event's
// latency being its request's.
type postAgent struct {
	client *http.Client
	url    string
	gen    *generator
	data   []byte
	body   []byte
	ids    []string
}

// newPostAgent returns a POST client of the relay at base (http://host:port)
// with its own keep-alive connection.
func newPostAgent(base string, gen *generator) *postAgent {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	return &postAgent{client: &http.Client{Timeout: answerTimeout, Transport: tr}, url: base + "/v1/events", gen: gen}
}

// run posts batches until the span's end.
func (a *postAgent) run(ctx context.Context, sp *span, st *stats) {
	for ctx.Err() == nil && time.Now().Before(sp.end) {
		a.body = append(a.body[:0], `{"events":[`...)
		a.ids = a.ids[:0]
		for j := range postBatch {
			var id string
			id, a.data = a.gen.next(a.data[:0])
			if j > 0 {
				a.body = append(a.body, ',')
			}
			a.body = appendFrame(a.body, id, a.data)
			a.ids = append(a.ids, id)
		}
		a.body = append(a.body, "]}"...)
		at := time.Now()
		if sp.measured(at) {
			st.sent += postBatch
		}
		results, err := a.post(ctx)
		now := time.Now()
		if err != nil {
			st.fail(postBatch, "post a batch: %v", err)
			continue
		}
		if len(results) != postBatch {
			st.fail(postBatch, "post a batch: %d results for %d events", len(results), postBatch)
			continue
		}
		for j := range results {
			results[j].check(st, sp, inflight{id: a.ids[j], at: at}, now)
		}
	}
}

// post sends the body and decodes the per-event results.
func (a *postAgent) post(ctx context.Context) ([]answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(a.body))
	if err != nil {
		return nil, fmt.Errorf("make request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	var out struct {
		Results []answer `json:"results"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode the answer: %w", err)
	}
	return out.Results, nil
}

// close drops the agent's idle connection.
func (a *postAgent) close() { a.client.CloseIdleConnections() }
