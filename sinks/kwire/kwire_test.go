package kwire

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go/protocol"
)

// conn is a connection whose responses are given and whose requests are
// kept.
type conn struct {
	io.Reader
	sent bytes.Buffer
}

func (c *conn) Write(p []byte) (int, error) { return c.sent.Write(p) }

func response(correlationID int32, body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(correlationID))
	return append(b, body...)
}

// TestExchange: the request goes out whole, the response's body comes back
// after its size and correlation id; a response for another request, one
// over the limit and one cut short are errors.
func TestExchange(t *testing.T) {
	req := Finish(AppendHeader(nil, protocol.Fetch, 5, 7))
	if got := binary.BigEndian.Uint32(req); int(got) != len(req)-4 {
		t.Fatalf("request size %d, want %d", got, len(req)-4)
	}
	if !bytes.HasSuffix(req, []byte("\x00\x08rekindle")) || binary.BigEndian.Uint16(req[4:]) != uint16(protocol.Fetch) ||
		binary.BigEndian.Uint16(req[6:]) != 5 || binary.BigEndian.Uint32(req[8:]) != 7 {
		t.Fatalf("request header % x", req)
	}
	c := &conn{Reader: bytes.NewReader(response(7, "body"))}
	got, err := Exchange(c, req, make([]byte, 0, 2), 7, 100)
	if err != nil || string(got) != "body" || !bytes.Equal(c.sent.Bytes(), req) {
		t.Fatalf("Exchange: %q, %v; sent % x", got, err, c.sent.Bytes())
	}
	for _, tc := range []struct {
		name string
		resp []byte
		want string
	}{
		{"another request's", response(8, "body"), "correlation id 0x8, want 0x7"},
		{"over the limit", response(7, strings.Repeat("x", 101)), "response of 105 bytes (limit 100)"},
		{"cut short", response(7, "body")[:10], "unexpected EOF"},
	} {
		_, err := Exchange(&conn{Reader: bytes.NewReader(tc.resp)}, req, nil, 7, 100)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
