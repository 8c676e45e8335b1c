package relay

import (
	"sync"

	"github.com/callrelay/callrelay/events"
)

// tenantNames are the subjects and CloudEvents names of one tenant, made
// once: the relay's own tenant (--tenant) and each tenant a client token
// named (--token-tenant-claim).
type tenantNames struct {
	subjects events.Subjects
	bar      map[string]barNames // the known message IDs'
	talk     string
	call     string
	rejected string
	source   string
	scoped   bool // a tenant from a token: message ids carry the tenant
}

func newTenantNames(subjects events.Subjects) *tenantNames {
	n := &tenantNames{
		subjects: subjects,
		bar:      make(map[string]barNames, 16),
		talk:     subjects.IframeParams(),
		call:     subjects.Call(),
		rejected: subjects.Rejected(),
		source:   ceSource(subjects),
	}
	for _, id := range events.KnownMessageIDs() {
		n.bar[id] = barNames{subjects.CallBarEvent(id), ceTypeCallBar(id)}
	}
	return n
}

// msgID is the Nats-Msg-Id (and ce-id) of a message with the hook's id:
// the id itself for the relay's own tenant, and "<tenant>/<id>" for a
// tenant from a token, so that the same id in two tenants of one stream is
// not a duplicate ('/' never appears in an id).
func (n *tenantNames) msgID(id string) string {
	if !n.scoped {
		return id
	}
	return n.subjects.Tenant + "/" + id
}

// barNames are the subject and CloudEvents type of a phone-bar message ID.
type barNames struct{ subject, ceType string }

// namesFor returns the subject and the CloudEvents type of an accepted
// message.
func (n *tenantNames) namesFor(m *events.Message) (subject, ceType string) {
	if m.Type == events.TypeIframeParams {
		return n.talk, ceTypeIframeParams
	}
	if b, ok := n.bar[m.MessageID]; ok {
		return b.subject, b.ceType
	}
	return n.subjects.For(m), ceTypeCallBar(m.MessageID)
}

// maxCachedTenants bounds the tenants whose names are kept; names of
// tenants beyond it are made for each event. Tenants come from valid
// tokens only, so their number is the integrator's.
const maxCachedTenants = 10000

// tenantCache holds the names of the tenants seen in tokens.
type tenantCache struct {
	def *tenantNames
	mu  sync.RWMutex
	m   map[string]*tenantNames
}

// get returns the names of tenant; "" is the relay's own. tenant was
// checked when its token was (validTenant).
func (c *tenantCache) get(tenant string) *tenantNames {
	if tenant == "" || tenant == c.def.subjects.Tenant {
		return c.def
	}
	c.mu.RLock()
	n := c.m[tenant]
	c.mu.RUnlock()
	if n != nil {
		return n
	}
	subjects, err := events.NewSubjects(c.def.subjects.Prefix, tenant)
	if err != nil {
		return c.def // not reached: tokens with such a tenant are refused
	}
	n = newTenantNames(subjects)
	n.scoped = true
	c.mu.Lock()
	if len(c.m) < maxCachedTenants {
		if c.m == nil {
			c.m = map[string]*tenantNames{}
		}
		c.m[tenant] = n
	}
	c.mu.Unlock()
	return n
}
