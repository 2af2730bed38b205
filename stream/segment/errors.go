package segment

import (
	"strconv"
	"unicode/utf8"
)

// Reasons a message is refused. They are stable and machine-readable: they
// label dead-lettered messages and their counters.
const (
	ReasonInvalidJSON     = "invalid_json"     // not one well-formed JSON object; also invalid UTF-8, nesting deeper than 1000
	ReasonTooLarge        = "too_large"        // longer than DecoderOptions.MaxBytes
	ReasonMissingID       = "missing_id"       // neither userId nor anonymousId; alias without previousId
	ReasonMissingEvent    = "missing_event"    // track without an event name
	ReasonUnknownType     = "unknown_type"     // type missing or not track/identify/page/screen/alias
	ReasonWrongType       = "wrong_type"       // a field rekindle reads has the wrong JSON type or value
	ReasonBadTimestamp    = "bad_timestamp"    // the event time is not RFC 3339
	ReasonFutureTimestamp = "future_timestamp" // the event time is more than MaxFutureSkew ahead of now
)

// DecodeError says why a message was refused. It never aliases the input.
type DecodeError struct {
	Reason string // one of the Reason constants
	Field  string // JSON path of the offending field ("properties.granted"), "" if none
	Detail string // continues the sentence after Field: `is a string ("yes"), want a boolean`
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return "segment: " + e.Reason + ": " + e.Detail
	}
	return "segment: " + e.Reason + ": " + e.Field + " " + e.Detail
}

// maxSnippet bounds how much of an offending value an error quotes.
const maxSnippet = 64

// snippet copies raw JSON text for an error message: at most maxSnippet
// bytes, cut on a UTF-8 boundary, whitespace folded to spaces.
func snippet(raw []byte) string {
	cut := false
	if len(raw) > maxSnippet {
		n := maxSnippet
		for n > 0 && !utf8.RuneStart(raw[n]) {
			n--
		}
		raw, cut = raw[:n], true
	}
	b := make([]byte, 0, len(raw)+3)
	for _, c := range raw {
		if c == '\n' || c == '\r' || c == '\t' {
			c = ' '
		}
		b = append(b, c)
	}
	if cut {
		b = append(b, "..."...)
	}
	return string(b)
}

// quoteSnippet quotes a decoded string value for an error message.
func quoteSnippet(s string) string {
	if len(s) > maxSnippet {
		n := maxSnippet
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return strconv.Quote(s[:n]) + "..."
	}
	return strconv.Quote(s)
}
