package state

// Channel is a messaging channel rekindle decides sends on.
type Channel uint8

const (
	ChannelPush Channel = iota
	ChannelEmail
	ChannelSMS
	ChannelInApp
	NumChannels
)

var channelNames = [NumChannels]string{"push", "email", "sms", "inapp"}

func (c Channel) String() string {
	if c < NumChannels {
		return channelNames[c]
	}
	return "unknown"
}

// ParseChannel returns the channel named s ("push", "email", "sms", "inapp").
func ParseChannel(s string) (Channel, bool) {
	for i, n := range channelNames {
		if n == s {
			return Channel(i), true
		}
	}
	return 0, false
}

// Surface indexes the per-surface activity arrays.
const (
	SurfaceApp = iota
	SurfaceWeb
	SurfaceStore
	NumSurfaces
)

// SurfaceNames names the surfaces in index order.
var SurfaceNames = [NumSurfaces]string{"app", "web", "store"}

// PushConsent is the user's push permission.
type PushConsent uint8

const (
	PushUnknown PushConsent = iota // never asked
	PushGranted
	PushDenied  // said no at the prompt (never granted)
	PushRevoked // granted earlier, then turned off
)

var pushNames = [...]string{"unknown", "granted", "denied", "revoked"}

func (c PushConsent) String() string { return enumName(pushNames[:], uint8(c)) }

// EmailConsent is the user's email subscription status.
type EmailConsent uint8

const (
	EmailUnknown EmailConsent = iota
	EmailSubscribed
	EmailUnsubscribed
	EmailSpam    // marked a message as spam
	EmailBounced // hard bounce: the address does not work
)

var emailNames = [...]string{"unknown", "subscribed", "unsubscribed", "spam", "bounced"}

func (c EmailConsent) String() string { return enumName(emailNames[:], uint8(c)) }

// SMSConsent is the user's SMS subscription status.
type SMSConsent uint8

const (
	SMSUnknown SMSConsent = iota
	SMSSubscribed
	SMSUnsubscribed
)

var smsNames = [...]string{"unknown", "subscribed", "unsubscribed"}

func (c SMSConsent) String() string { return enumName(smsNames[:], uint8(c)) }

// Premium is the user's paid-subscription status.
type Premium uint8

const (
	PremiumNone Premium = iota
	PremiumActive
	PremiumCancelled
)

var premiumNames = [...]string{"none", "active", "cancelled"}

func (p Premium) String() string { return enumName(premiumNames[:], uint8(p)) }

func enumName(names []string, v uint8) string {
	if int(v) < len(names) {
		return names[v]
	}
	return "invalid"
}

// RecentIDs is how many recent messageId hashes a record keeps to drop
// duplicate deliveries of the same event.
const RecentIDs = 8

// UserRecord is everything rekindle knows about one user: the single source
// of truth from which segments and timers are derived. Times are Unix
// milliseconds, 0 meaning never.
type UserRecord struct {
	UserID      string
	DenseID     uint32 // stable for life; unique across partitions (see DenseID)
	AnonymousID string

	Email    string
	Phone    string
	Timezone string // IANA name
	Country  string

	FirstSeen [NumSurfaces]int64
	LastSeen  [NumSurfaces]int64

	LastPurchase  int64
	Purchases     uint32
	LifetimeValue float64

	CartItems   uint32
	CartValue   float64
	CartUpdated int64

	// Per channel: last delivery, last engagement (open/click/tap), and the
	// deliveries since the last engagement.
	LastDelivered         [NumChannels]int64
	LastEngaged           [NumChannels]int64
	DeliveredSinceEngaged [NumChannels]uint32

	PushStatus    PushConsent
	PushChanged   int64
	EmailStatus   EmailConsent
	EmailChanged  int64
	SMSStatus     SMSConsent
	SMSChanged    int64
	Uninstalled   bool
	UninstalledAt int64
	Premium       Premium
	PremiumAt     int64

	// Frequency-cap counters per channel: sends decided on day SentDay
	// (days since the Unix epoch in the user's time zone) and in week SentWeek.
	SentDay        [NumChannels]int32
	SentDayCount   [NumChannels]uint16
	SentWeek       [NumChannels]int32
	SentWeekCount  [NumChannels]uint16
	LastDecisionAt int64

	Events uint64 // events applied

	// RecentMessageIDs holds hashes of the last RecentIDs messageIds, to drop
	// duplicates; RecentNext is the slot written next.
	RecentMessageIDs [RecentIDs]uint64
	RecentNext       uint8

	// Segments is the user's segment membership, bit i of Segments[i/64]
	// for segment id i. It is derived from the rest of the record (and can
	// be recomputed); it is stored so that a change is a diff.
	Segments [SegmentWords]uint64
	// TimerDue is the due time of the user's pending timer (0: none); the
	// timer index holds the same (due, user) key.
	TimerDue int64
	// Tracked holds the recent times of the events that user-defined
	// segments name ("performed"/"not_performed"): at most MaxTrackedEvents
	// entries of at most MaxTrackedTimes times each (see AppendRecord).
	// Unlike the other fields it is not copied with the struct: use Clone.
	Tracked []TrackedEvent
}

// Clone returns a deep copy of r: it shares no array with r (strings,
// being immutable, are shared), so it survives r being decoded into again.
func (r *UserRecord) Clone() UserRecord {
	c := *r
	if r.Tracked == nil {
		return c
	}
	n := 0
	for _, t := range r.Tracked {
		n += len(t.Times)
	}
	block := make([]int64, n)
	c.Tracked = make([]TrackedEvent, len(r.Tracked))
	for i, t := range r.Tracked {
		c.Tracked[i].Name = t.Name
		if t.Times != nil {
			k := copy(block, t.Times)
			c.Tracked[i].Times, block = block[:k:k], block[k:]
		}
	}
	return c
}

// SegmentWords is the number of 64-bit words of UserRecord.Segments: at
// most SegmentWords*64 segments (built-in and user-defined) exist.
const SegmentWords = 2

// TrackedEvent is the recent history of one event name for one user.
type TrackedEvent struct {
	Name  string
	Times []int64 // Unix ms, oldest first; at most the longest history a definition needs
}
