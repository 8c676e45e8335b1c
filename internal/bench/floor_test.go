package bench

import "testing"

// The floor server reads back exactly the id and data the bench's agents
// put in a frame, and refuses what is not such a frame.
func TestFloorEvent(t *testing.T) {
	data := []byte(`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventEstablished","id":"x"}}`)
	frame := appendFrame(nil, "b3-7-42", data)
	id, got, ok := floorEvent(frame)
	if !ok || string(id) != "b3-7-42" || string(got) != string(data) {
		t.Fatalf("floorEvent(%s) = %q, %q, %v", frame, id, got, ok)
	}
	for _, bad := range []string{``, `{}`, `{"type":"event","id":"a"}`, `{"type":"event","id":"a,"data":`, `{"type":"event","data":{}}`} {
		if _, _, ok := floorEvent([]byte(bad)); ok {
			t.Errorf("floorEvent(%q) accepted it", bad)
		}
	}
}
