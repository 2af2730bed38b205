package sinks

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// Auth is how rekindle's Kafka clients reach a secured cluster: TLS (the
// brokers' certificates verified, a client certificate when the cluster
// asks for one) and SASL (PLAIN or SCRAM). A nil *Auth, or one with
// neither set, connects in plaintext without authenticating, as to the
// embedded broker.
type Auth struct {
	TLS  *tls.Config
	SASL sasl.Mechanism
}

// Transport returns a kafka-go Transport (the connections of a
// kafka.Client) that connects as a says.
func (a *Auth) Transport() *kafka.Transport {
	t := &kafka.Transport{}
	if a != nil {
		t.TLS, t.SASL = a.TLS, a.SASL
	}
	return t
}

// Dialer returns a kafka-go Dialer (the connections of a Reader and of a
// ConsumerGroup) that connects as a says, with kafka-go's default timeout.
func (a *Auth) Dialer() *kafka.Dialer {
	d := &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true}
	if a != nil {
		d.TLS, d.SASLMechanism = a.TLS, a.SASL
	}
	return d
}

// Probe connects to the brokers, as auth says, until one lets it in: a
// configuration that cannot work (an address with no broker, a certificate
// not trusted, a wrong password) is reported at once with its cause, which
// kafka-go's clients report later, if at all, as "Broker Not Available".
func Probe(ctx context.Context, brokers []string, auth *Auth) error {
	var errs []error
	for _, addr := range brokers {
		c, err := auth.Dialer().DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.Close()
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	return fmt.Errorf("sinks: no broker let rekindle in: %w", errors.Join(errs...))
}
