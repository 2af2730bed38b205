package stream

import (
	"strings"
	"testing"
)

// FuzzParseConfig: any bytes give a configuration or an error naming the
// file, never a panic; an accepted configuration validates and compiles.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(campaignYAML))
	f.Add([]byte("kafka:\n  brokers: [a:1]\n  partitions: 3\nprocessing:\n  max_future_skew: 3h\n"))
	f.Add([]byte("vocabulary:\n  Buy: Order Completed\n"))
	f.Add([]byte("campaigns:\n  - id: x\n    trigger: {event: A}\n    channels: [sms]\n"))
	f.Add([]byte("kafka: [\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("f.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted configuration does not validate: %v", err)
		}
		if _, err := NewProcessor(cfg); err != nil {
			t.Fatalf("accepted configuration does not compile: %v", err)
		}
	})
}
