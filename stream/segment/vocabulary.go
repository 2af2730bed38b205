package segment

// Kind is the semantic meaning rekindle gives an event name.
type Kind uint8

const (
	KindCustom Kind = iota // any event rekindle has no built-in meaning for
	KindAppInstalled
	KindAppOpened
	KindAppBackgrounded
	KindAppUninstalled
	KindProductViewed
	KindProductAdded
	KindCartViewed
	KindCheckoutStarted
	KindOrderCompleted
	KindPushReceived
	KindPushTapped
	KindPushBounced
	KindEmailDelivered
	KindEmailOpened
	KindEmailLinkClicked
	KindEmailBounced
	KindEmailMarkedAsSpam
	KindUnsubscribed
	KindPushPermissionChanged
	KindEmailSubscriptionChanged
	KindSMSSubscriptionChanged
	KindPermissionChanged
	KindSMSReceived
	KindSMSDelivered
	KindSMSClicked
	KindSubscriptionCancelled
	KindSubscriptionStarted
	KindLocationEntered
	KindPage   // a page call
	KindScreen // a screen call
	KindIdentify
	KindAlias
	numKinds
)

// DefaultVocabulary maps Segment Spec and rekindle event names to kinds.
// Config `vocabulary:` entries add names (an existing name can be remapped).
var DefaultVocabulary = map[string]Kind{
	"Application Installed":      KindAppInstalled,
	"Application Opened":         KindAppOpened,
	"Application Backgrounded":   KindAppBackgrounded,
	"Application Uninstalled":    KindAppUninstalled,
	"Product Viewed":             KindProductViewed,
	"Product Added":              KindProductAdded,
	"Cart Viewed":                KindCartViewed,
	"Checkout Started":           KindCheckoutStarted,
	"Order Completed":            KindOrderCompleted,
	"Push Notification Received": KindPushReceived,
	"Push Notification Tapped":   KindPushTapped,
	"Push Notification Bounced":  KindPushBounced,
	"Email Delivered":            KindEmailDelivered,
	"Email Opened":               KindEmailOpened,
	"Email Link Clicked":         KindEmailLinkClicked,
	"Email Bounced":              KindEmailBounced,
	"Email Marked as Spam":       KindEmailMarkedAsSpam,
	"Unsubscribed":               KindUnsubscribed,
	"Push Permission Changed":    KindPushPermissionChanged,
	"Email Subscription Changed": KindEmailSubscriptionChanged,
	"SMS Subscription Changed":   KindSMSSubscriptionChanged,
	"Permission Changed":         KindPermissionChanged,
	"SMS Received":               KindSMSReceived,
	"SMS Delivered":              KindSMSDelivered,
	"SMS Link Clicked":           KindSMSClicked,
	"Subscription Cancelled":     KindSubscriptionCancelled,
	"Subscription Started":       KindSubscriptionStarted,
	"Location Entered":           KindLocationEntered,
}

// KindByName returns the Kind of a built-in vocabulary name ("Order
// Completed"), and whether there is one.
func KindByName(name string) (Kind, bool) {
	if k, ok := DefaultVocabulary[name]; ok {
		return k, true
	}
	return 0, false
}
