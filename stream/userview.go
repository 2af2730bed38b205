package stream

import (
	"github.com/rekindle/rekindle/state"
)

// UserView is a user record rendered for people: names instead of enum
// numbers, RFC 3339 instead of Unix milliseconds. It is what
// `rekindle user` prints and GET /v1/users/{id} returns.
type UserView struct {
	UserID      string `json:"user_id"`
	DenseID     uint32 `json:"dense_id"`
	AnonymousID string `json:"anonymous_id,omitempty"`
	Email       string `json:"email,omitempty"`
	Phone       string `json:"phone,omitempty"`
	Timezone    string `json:"timezone,omitempty"`
	Country     string `json:"country,omitempty"`

	FirstSeen map[string]string `json:"first_seen"`
	LastSeen  map[string]string `json:"last_seen"`

	Purchases     uint32  `json:"purchases"`
	LastPurchase  string  `json:"last_purchase,omitempty"`
	LifetimeValue float64 `json:"lifetime_value"`
	CartItems     uint32  `json:"cart_items"`
	CartValue     float64 `json:"cart_value"`
	CartUpdated   string  `json:"cart_updated,omitempty"`

	Channels map[string]ChannelView `json:"channels"`

	Uninstalled    bool   `json:"uninstalled"`
	UninstalledAt  string `json:"uninstalled_at,omitempty"`
	Premium        string `json:"premium"`
	PremiumAt      string `json:"premium_changed_at,omitempty"`
	LastDecisionAt string `json:"last_decision_at,omitempty"`
	Events         uint64 `json:"events"`
}

// ChannelView is one channel's consent and engagement.
type ChannelView struct {
	Consent               string `json:"consent"`
	ConsentChanged        string `json:"consent_changed,omitempty"`
	Allowed               bool   `json:"allowed"` // a marketing send may go out now
	LastDelivered         string `json:"last_delivered,omitempty"`
	LastEngaged           string `json:"last_engaged,omitempty"`
	DeliveredSinceEngaged uint32 `json:"delivered_since_engaged"`
}

func viewTime(ms int64) string {
	if ms == 0 {
		return ""
	}
	return formatTime(ms)
}

// ViewUser renders a user record.
func ViewUser(r *state.UserRecord) UserView {
	v := UserView{
		UserID: r.UserID, DenseID: r.DenseID, AnonymousID: r.AnonymousID,
		Email: r.Email, Phone: r.Phone, Timezone: r.Timezone, Country: r.Country,
		FirstSeen: map[string]string{}, LastSeen: map[string]string{},
		Purchases: r.Purchases, LastPurchase: viewTime(r.LastPurchase), LifetimeValue: r.LifetimeValue,
		CartItems: r.CartItems, CartValue: r.CartValue, CartUpdated: viewTime(r.CartUpdated),
		Channels:    map[string]ChannelView{},
		Uninstalled: r.Uninstalled, UninstalledAt: viewTime(r.UninstalledAt),
		Premium: r.Premium.String(), PremiumAt: viewTime(r.PremiumAt),
		LastDecisionAt: viewTime(r.LastDecisionAt), Events: r.Events,
	}
	for s, name := range state.SurfaceNames {
		if r.FirstSeen[s] != 0 {
			v.FirstSeen[name] = viewTime(r.FirstSeen[s])
			v.LastSeen[name] = viewTime(r.LastSeen[s])
		}
	}
	for ch := state.Channel(0); ch < state.NumChannels; ch++ {
		cv := ChannelView{
			Allowed:               Allowed(r, ch),
			LastDelivered:         viewTime(r.LastDelivered[ch]),
			LastEngaged:           viewTime(r.LastEngaged[ch]),
			DeliveredSinceEngaged: r.DeliveredSinceEngaged[ch],
		}
		switch ch {
		case state.ChannelPush:
			cv.Consent, cv.ConsentChanged = r.PushStatus.String(), viewTime(r.PushChanged)
		case state.ChannelEmail:
			cv.Consent, cv.ConsentChanged = r.EmailStatus.String(), viewTime(r.EmailChanged)
		case state.ChannelSMS:
			cv.Consent, cv.ConsentChanged = r.SMSStatus.String(), viewTime(r.SMSChanged)
		case state.ChannelInApp:
			cv.Consent = "implicit"
		}
		v.Channels[ch.String()] = cv
	}
	return v
}

// LookupUser reads a user's record from the partition (of n) that murmur2
// gives the id, and from the others when it is not there: a producer with
// another partitioner puts users elsewhere.
func LookupUser(store *state.Store, userID string, n int, rec *state.UserRecord) (found bool, err error) {
	home := PartitionOf(userID, n)
	found, err = store.Partition(home).GetUser(userID, rec)
	for part := int32(0); err == nil && !found && part < int32(n); part++ {
		if part != home {
			found, err = store.Partition(part).GetUser(userID, rec)
		}
	}
	return found, err
}
