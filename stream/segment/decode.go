package segment

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	// DefaultMaxBytes is the default DecoderOptions.MaxBytes.
	DefaultMaxBytes = 64 << 10
	// DefaultMaxFutureSkew is the default DecoderOptions.MaxFutureSkew.
	DefaultMaxFutureSkew = 24 * time.Hour
)

// DecoderOptions configures a Decoder. The zero value is valid.
type DecoderOptions struct {
	// Vocabulary maps track event names to kinds. Nil means
	// DefaultVocabulary; a caller adding names merges them into a copy of
	// DefaultVocabulary itself. NewDecoder copies the map.
	Vocabulary map[string]Kind
	// MaxBytes refuses longer messages as too_large. Zero means
	// DefaultMaxBytes (64 KiB).
	MaxBytes int
	// MaxFutureSkew refuses messages whose event time is further ahead of
	// Decode's now as future_timestamp. Zero means DefaultMaxFutureSkew (24h).
	MaxFutureSkew time.Duration
}

// Validate reports options that NewDecoder would not take as given.
func (o *DecoderOptions) Validate() error {
	if o.MaxBytes < 0 || o.MaxBytes > math.MaxInt32 {
		return errors.New("segment: max bytes " + strconv.Itoa(o.MaxBytes) + " out of range [0, 2^31)")
	}
	if o.MaxFutureSkew < 0 {
		return errors.New("segment: max future skew " + o.MaxFutureSkew.String() + " is negative")
	}
	return nil
}

// Decoder decodes Segment Spec messages. It is immutable and safe for
// concurrent use; the zero Decoder uses the default options.
type Decoder struct {
	vocab     map[string]Kind
	maxBytes  int
	maxSkewMS int64
}

// NewDecoder returns a decoder. Options out of range (see Validate) are
// replaced by their defaults.
func NewDecoder(opts DecoderOptions) *Decoder {
	d := &Decoder{maxBytes: opts.MaxBytes, maxSkewMS: opts.MaxFutureSkew.Milliseconds()}
	if opts.Vocabulary != nil {
		d.vocab = make(map[string]Kind, len(opts.Vocabulary))
		for name, k := range opts.Vocabulary {
			d.vocab[name] = k
		}
	}
	if d.maxBytes <= 0 || d.maxBytes > math.MaxInt32 {
		d.maxBytes = DefaultMaxBytes
	}
	if d.maxSkewMS <= 0 {
		d.maxSkewMS = DefaultMaxFutureSkew.Milliseconds()
	}
	return d
}

// Decode resets *ev and decodes the message data into it. now (Unix ms) is
// the reference for the future-timestamp check, which is skipped when now is
// 0. On error, *ev is the zero Event and the error is a *DecodeError.
//
// The strings of ev, and ev.Properties, alias data wherever the JSON text
// needs no unescaping: ev is valid only while data is not modified. A
// message without escapes is decoded without allocating.
//
// Of the fields rekindle reads, only those that are used are checked: in a
// chain of fallbacks (timestamp, originalTimestamp, receivedAt) the first
// present one, and properties only on the kinds that give them meaning
// (elsewhere a known property of the wrong type is left zero). A null value
// counts as absent.
//
// Surface is decided by the first rule that applies: properties.surface
// "app", "web" or "store"; SurfaceNone for message and consent kinds (push,
// email and SMS events, Unsubscribed, permission and subscription changes);
// context.channel "store"; screen is app, page is web; a track named
// "Application ..." or a context.app is app; a context.page or
// context.userAgent is web; a context.device or context.os is app.
func (d *Decoder) Decode(data []byte, now int64, ev *Event) error {
	return d.decode(data, now, ev, canIndexQuotes)
}

// decode is Decode, with the quote index (quotes.go) when index is true and
// the document qualifies. The index changes nothing but the speed.
func (d *Decoder) decode(data []byte, now int64, ev *Event, index bool) error {
	*ev = Event{}
	maxBytes := d.maxBytes
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	if len(data) > maxBytes {
		return &DecodeError{Reason: ReasonTooLarge,
			Detail: strconv.Itoa(len(data)) + " bytes, limit " + strconv.Itoa(maxBytes)}
	}
	s := scanner{data: data}
	if index {
		s.indexQuotes()
	}
	if !s.document() {
		return s.syntaxError()
	}
	if err := d.fill(&s, now, ev); err != nil {
		*ev = Event{}
		return err
	}
	return nil
}

func (s *scanner) syntaxError() *DecodeError {
	detail := "offset " + strconv.Itoa(s.errOff) + ": " + s.errMsg
	if s.errOff < len(s.data) {
		if c := s.data[s.errOff]; c < utf8.RuneSelf {
			detail += " (found " + strconv.QuoteRune(rune(c)) + ")"
		} else {
			detail += " (found byte 0x" + strconv.FormatUint(uint64(c), 16) + ")"
		}
	}
	return &DecodeError{Reason: ReasonInvalidJSON, Detail: detail}
}

func (d *Decoder) fill(s *scanner, now int64, ev *Event) error {
	f := &s.f

	// type
	switch sp := f[fType]; sp.kind {
	case jsAbsent, jsNull:
		return &DecodeError{Reason: ReasonUnknownType, Field: "type", Detail: "is missing"}
	case jsString:
		switch t := s.text(sp); t {
		case "track":
			ev.Type = TypeTrack
		case "identify":
			ev.Type, ev.Kind = TypeIdentify, KindIdentify
		case "page":
			ev.Type, ev.Kind = TypePage, KindPage
		case "screen":
			ev.Type, ev.Kind = TypeScreen, KindScreen
		case "alias":
			ev.Type, ev.Kind = TypeAlias, KindAlias
		default:
			return &DecodeError{Reason: ReasonUnknownType, Field: "type",
				Detail: "is " + quoteSnippet(t) + ", want track, identify, page, screen or alias"}
		}
	default:
		return s.wrongType(fType, "a string")
	}

	// ids
	var err error
	if ev.UserID, err = s.id(fUserID); err != nil {
		return err
	}
	if ev.AnonymousID, err = s.id(fAnonymousID); err != nil {
		return err
	}
	if ev.UserID == "" && ev.AnonymousID == "" {
		return &DecodeError{Reason: ReasonMissingID, Field: "userId",
			Detail: "and anonymousId are both missing or empty"}
	}
	if ev.MessageID, err = s.string(fMessageID); err != nil {
		return err
	}
	if ev.Type == TypeAlias {
		if ev.PreviousID, err = s.id(fPreviousID); err != nil {
			return err
		}
		if ev.PreviousID == "" {
			return &DecodeError{Reason: ReasonMissingID, Field: "previousId",
				Detail: "is missing or empty, an alias needs it"}
		}
	}

	// name and kind
	switch ev.Type {
	case TypeTrack:
		if ev.Name, err = s.string(fEvent); err != nil {
			return err
		}
		if ev.Name == "" {
			return &DecodeError{Reason: ReasonMissingEvent, Field: "event",
				Detail: "is missing or empty, a track needs it"}
		}
		vocab := d.vocab
		if vocab == nil {
			vocab = DefaultVocabulary
		}
		ev.Kind = vocab[ev.Name] // KindCustom when unknown
	case TypePage, TypeScreen:
		if ev.Name, err = s.string(fName); err != nil {
			return err
		}
	}

	// event time
	if tf := s.firstPresent(fTimestamp, fOriginalTimestamp, fReceivedAt, fNone); tf != fNone {
		if ev.Timestamp, err = d.timestamp(s, tf, now); err != nil {
			return err
		}
	}

	// containers
	for _, cf := range [...]field{fContext, fTraits, fCtxTraits, fProperties} {
		if k := f[cf].kind; k != jsObject && k.present() {
			return s.wrongType(cf, "an object")
		}
	}
	if sp := f[fProperties]; sp.kind == jsObject {
		ev.Properties = s.data[sp.start:sp.end:sp.end]
	}

	// traits: top-level traits win over context.traits
	if ev.Timezone, err = s.string(s.firstPresent(fCtxTimezone, fTraitsTimezone, fCtxTraitsTimezone, fNone)); err != nil {
		return err
	}
	if ev.Email, err = s.string(s.firstPresent(fTraitsEmail, fCtxTraitsEmail, fNone, fNone)); err != nil {
		return err
	}
	if ev.Country, err = s.string(s.firstPresent(fTraitsCountry, fCtxTraitsCountry, fNone, fNone)); err != nil {
		return err
	}
	if ev.Phone, err = s.id(s.firstPresent(fTraitsPhone, fCtxTraitsPhone, fNone, fNone)); err != nil {
		return err
	}

	if err := s.properties(ev); err != nil {
		return err
	}
	ev.Surface = s.surface(ev)
	return nil
}

// timestamp returns the time of field f in Unix ms.
func (d *Decoder) timestamp(s *scanner, f field, now int64) (int64, error) {
	sp := s.f[f]
	if sp.kind != jsString {
		return 0, s.wrongType(f, "an RFC 3339 string")
	}
	t := s.text(sp)
	ms, ok := parseTimestamp(t)
	if !ok {
		return 0, &DecodeError{Reason: ReasonBadTimestamp, Field: fieldNames[f],
			Detail: "is " + quoteSnippet(t) + ", want RFC 3339 (2006-01-02T15:04:05.999Z)"}
	}
	skew := d.maxSkewMS
	if skew == 0 {
		skew = DefaultMaxFutureSkew.Milliseconds()
	}
	if now != 0 && ms > now && ms-now > skew {
		return 0, &DecodeError{Reason: ReasonFutureTimestamp, Field: fieldNames[f],
			Detail: "is " + quoteSnippet(t) + ", more than " +
				(time.Duration(skew) * time.Millisecond).String() + " after now (" +
				time.UnixMilli(now).UTC().Format(time.RFC3339Nano) + ")"}
	}
	return ms, nil
}

// text returns a captured string's value.
func (s *scanner) text(sp span) string {
	b := s.data[sp.start:sp.end]
	if sp.escaped {
		return unescape(b)
	}
	return bytesString(b)
}

func (s *scanner) raw(sp span) []byte {
	if sp.kind == jsString {
		return s.data[sp.start-1 : sp.end+1]
	}
	return s.data[sp.start:sp.end]
}

func (s *scanner) wrongType(f field, want string) error {
	sp := s.f[f]
	return &DecodeError{Reason: ReasonWrongType, Field: fieldNames[f],
		Detail: "is " + jsonKindNames[sp.kind] + " (" + snippet(s.raw(sp)) + "), want " + want}
}

// string returns an optional string field.
func (s *scanner) string(f field) (string, error) {
	switch sp := s.f[f]; sp.kind {
	case jsAbsent, jsNull:
		return "", nil
	case jsString:
		b := s.data[sp.start:sp.end]
		if sp.escaped {
			return unescape(b), nil
		}
		return bytesString(b), nil
	}
	return "", s.wrongType(f, "a string")
}

// id returns an optional identifier: a string, or a number kept as its
// literal text.
func (s *scanner) id(f field) (string, error) {
	switch sp := s.f[f]; sp.kind {
	case jsAbsent, jsNull:
		return "", nil
	case jsString, jsNumber: // a number is never escaped
		b := s.data[sp.start:sp.end]
		if sp.escaped {
			return unescape(b), nil
		}
		return bytesString(b), nil
	}
	return "", s.wrongType(f, "a string or a number")
}

// firstPresent returns the first of a, b, c and d that is present and not
// null, or fNone. fNone, which is never present, pads shorter lists.
func (s *scanner) firstPresent(a, b, c, d field) field {
	switch {
	case s.f[a].kind.present():
		return a
	case s.f[b].kind.present():
		return b
	case s.f[c].kind.present():
		return c
	case s.f[d].kind.present():
		return d
	}
	return fNone
}

// isMessage reports whether a kind is about a message or a consent change
// rather than activity on a surface.
func isMessage(k Kind) bool {
	switch k {
	case KindPushReceived, KindPushTapped, KindPushBounced,
		KindEmailDelivered, KindEmailOpened, KindEmailLinkClicked, KindEmailBounced, KindEmailMarkedAsSpam,
		KindUnsubscribed, KindPushPermissionChanged, KindEmailSubscriptionChanged,
		KindSMSSubscriptionChanged, KindPermissionChanged,
		KindSMSReceived, KindSMSDelivered, KindSMSClicked:
		return true
	}
	return false
}

// properties fills the properties rekindle gives meaning to. A property of
// the wrong type is an error on the kinds that use it and ignored elsewhere.
func (s *scanner) properties(ev *Event) error {
	f := &s.f
	k := ev.Kind
	if sp := f[fPropGranted]; sp.kind.present() {
		switch sp.kind {
		case jsTrue, jsFalse:
			ev.Granted, ev.HasGranted = sp.kind == jsTrue, true
		default:
			if k == KindPushPermissionChanged || k == KindPermissionChanged {
				return s.wrongType(fPropGranted, "a boolean")
			}
		}
	}
	// Most events have none of the string properties (jsAbsent is 0).
	if f[fPropStatus].kind|f[fPropPermission].kind|f[fPropFrom].kind|f[fPropBody].kind|f[fPropChannel].kind != jsAbsent {
		if err := s.stringProperties(ev); err != nil {
			return err
		}
	}
	if rf := s.firstPresent(fPropRevenue, fPropTotal, fPropValue, fPropPrice); rf != fNone {
		v, err := s.float(rf)
		switch {
		case err == nil:
			ev.Revenue, ev.HasRevenue = v, true
		case k == KindOrderCompleted || k == KindProductAdded:
			return err
		}
	}
	return nil
}

// stringProperties fills the string properties, as properties does.
func (s *scanner) stringProperties(ev *Event) error {
	k := ev.Kind
	props := [...]struct {
		f    field
		dst  *string
		used bool
	}{
		{fPropStatus, &ev.Status, k == KindEmailSubscriptionChanged || k == KindSMSSubscriptionChanged},
		{fPropPermission, &ev.Permission, k == KindPermissionChanged},
		{fPropFrom, &ev.From, k == KindSMSReceived},
		{fPropBody, &ev.Body, k == KindSMSReceived},
		{fPropChannel, &ev.Channel, isMessage(k)},
	}
	for _, p := range props {
		v, err := s.string(p.f)
		if err != nil {
			if p.used {
				return err
			}
			continue
		}
		*p.dst = v
	}
	return nil
}

// float returns a number field given as a JSON number or a string holding
// one.
func (s *scanner) float(f field) (float64, error) {
	sp := s.f[f]
	var t string
	switch sp.kind {
	case jsNumber:
		t = bytesString(s.data[sp.start:sp.end])
	case jsString:
		t = s.text(sp)
		if len(t) == 0 || numberLen(t) != len(t) {
			return 0, s.wrongType(f, "a number")
		}
	default:
		return 0, s.wrongType(f, "a number")
	}
	if v, ok := shortDecimal(t); ok {
		return v, nil
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, &DecodeError{Reason: ReasonWrongType, Field: fieldNames[f],
			Detail: "is " + quoteSnippet(t) + ", out of range of a float64"}
	}
	return v, nil
}

// pow10[k] is 10^k, exactly, for the k shortDecimal needs.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15}

// shortDecimal parses the valid JSON number t, as strconv.ParseFloat would,
// if it has no exponent and at most 15 digits (prices and totals), and
// reports whether it did. Such a number is m / 10^k with m < 2^53, and both
// are exact float64s, so the one rounding of the division gives the
// correctly rounded value ParseFloat returns (Clinger's fast path).
func shortDecimal(t string) (float64, bool) {
	i, neg := 0, false
	if t != "" && t[0] == '-' {
		i, neg = 1, true
	}
	var m uint64
	digits, point := 0, -1
	for ; i < len(t); i++ {
		switch c := t[i]; {
		case isDigit(c):
			m = m*10 + uint64(c-'0')
			digits++
		case c == '.':
			point = digits
		default:
			return 0, false // an exponent
		}
	}
	if digits > 15 {
		return 0, false
	}
	v := float64(m)
	if point >= 0 {
		v /= pow10[digits-point]
	}
	if neg {
		v = -v
	}
	return v, true
}

// surface decides where the user was active; the rules are on Decode.
func (s *scanner) surface(ev *Event) Surface {
	f := &s.f
	if sp := f[fPropSurface]; sp.kind == jsString {
		switch s.text(sp) {
		case "app":
			return SurfaceApp
		case "web":
			return SurfaceWeb
		case "store":
			return SurfaceStore
		}
	}
	if isMessage(ev.Kind) {
		return SurfaceNone
	}
	if sp := f[fCtxChannel]; sp.kind == jsString && s.text(sp) == "store" {
		return SurfaceStore
	}
	switch {
	case ev.Type == TypeScreen:
		return SurfaceApp
	case ev.Type == TypePage:
		return SurfaceWeb
	case ev.Type == TypeTrack && strings.HasPrefix(ev.Name, "Application "):
		return SurfaceApp
	case f[fCtxApp].kind.present():
		return SurfaceApp
	case f[fCtxPage].kind.present() || f[fCtxUserAgent].kind.present():
		return SurfaceWeb
	case f[fCtxDevice].kind.present() || f[fCtxOS].kind.present():
		return SurfaceApp
	}
	return SurfaceNone
}
