package segment

// EventType is the Segment Spec message type.
type EventType uint8

const (
	TypeTrack EventType = iota + 1
	TypeIdentify
	TypePage
	TypeScreen
	TypeAlias
)

var eventTypeNames = [...]string{"", "track", "identify", "page", "screen", "alias"}

func (t EventType) String() string {
	if int(t) < len(eventTypeNames) {
		return eventTypeNames[t]
	}
	return "unknown"
}

// Surface is where the user was active.
type Surface uint8

const (
	SurfaceNone Surface = iota // not an activity on any surface (e.g. a message delivery)
	SurfaceApp
	SurfaceWeb
	SurfaceStore
)

// Event is one decoded Segment Spec message. String fields may alias the
// record bytes they were decoded from: the Event is valid only as long as
// those bytes are not modified.
type Event struct {
	Type        EventType
	UserID      string
	AnonymousID string
	MessageID   string
	PreviousID  string // alias: the id being merged into UserID
	Name        string // track: event name; page/screen: the page or screen name
	Kind        Kind   // semantic meaning of Name, from the vocabulary

	// Timestamp is event time in Unix milliseconds: timestamp, else
	// originalTimestamp, else receivedAt, else 0 (the caller falls back to
	// receipt time).
	Timestamp int64

	Surface  Surface
	Timezone string // context.timezone, else traits.timezone, else context.traits.timezone

	// Traits (identify traits, or context.traits on other types).
	Email   string
	Phone   string
	Country string

	// Properties the vocabulary gives meaning to. They are filled on every
	// kind when well-typed; a wrong type is an error only on the kinds named
	// here (elsewhere the field is left zero).
	Granted    bool   // "Push Permission Changed", "Permission Changed"
	HasGranted bool   // whether `granted` was present
	Status     string // "Email/SMS Subscription Changed": subscribed|unsubscribed|...
	Permission string // "Permission Changed": push|email|sms|location|...
	From       string // "SMS Received"
	Body       string // "SMS Received"
	Revenue    float64
	HasRevenue bool   // revenue, else total, else value, else price; numeric strings too
	Channel    string // properties.channel on message events ("push", "email", "sms")

	// Properties is the raw JSON object of properties ("{}" or nil when absent),
	// carried into decision attributes.
	Properties []byte
}

// User returns the id the user is keyed by: userId, else anonymousId.
func (e *Event) User() string {
	if e.UserID != "" {
		return e.UserID
	}
	return e.AnonymousID
}
