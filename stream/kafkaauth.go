package stream

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/rekindle/rekindle/sinks"
)

// KafkaTLS connects to the brokers over TLS. Present (even empty: `tls:
// {}`), the brokers' certificates are verified against the system's roots
// or CAFile.
type KafkaTLS struct {
	// CAFile: PEM certificates of the authorities that signed the
	// brokers' certificates (default: the system's roots).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile: a PEM client certificate and its key, for a
	// cluster that authenticates clients by certificate (mTLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName the brokers' certificates must name (default: the host
	// of each broker address).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any certificate: for tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// KafkaSASL authenticates to the brokers.
type KafkaSASL struct {
	// Mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// Password, or PasswordEnv: the environment variable holding it, so
	// that the file needs no secret. Exactly one of the two.
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"password_env"`
}

// secret returns a password given in a file (password) or in the
// environment variable it names (env), at most one of them; the keys in
// errors start with section.
func secret(password, env, section string) (string, error) {
	switch {
	case password != "" && env != "":
		return "", &ConfigError{Key: section + ".password_env", Msg: "set with password: give one of the two"}
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", &ConfigError{Key: section + ".password_env", Msg: env + " is not set in the environment"}
		}
		return v, nil
	}
	return password, nil
}

// SASL mechanisms KafkaSASL.Mechanism names.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Auth returns how rekindle's Kafka clients connect, from k.TLS and k.SASL:
// nil when neither is set (plaintext). It reads the certificate files and
// the password's environment variable; an error is a *ConfigError naming
// the key.
func (k *KafkaConfig) Auth() (*sinks.Auth, error) {
	if k.TLS == nil && k.SASL == nil {
		return nil, nil
	}
	bad := func(key, format string, args ...any) error {
		return &ConfigError{Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	if len(k.Brokers) == 0 {
		key := "kafka.tls"
		if k.TLS == nil {
			key = "kafka.sasl"
		}
		return nil, bad(key, "applies to kafka.brokers, and none is configured (the embedded broker speaks plaintext, unauthenticated)")
	}
	auth := &sinks.Auth{}
	if t := k.TLS; t != nil {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, bad("kafka.tls.ca_file", "%v", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, bad("kafka.tls.ca_file", "%s holds no PEM certificate", t.CAFile)
			}
		}
		switch {
		case t.CertFile != "" && t.KeyFile == "":
			return nil, bad("kafka.tls.key_file", "required with cert_file (%s)", t.CertFile)
		case t.CertFile == "" && t.KeyFile != "":
			return nil, bad("kafka.tls.cert_file", "required with key_file (%s)", t.KeyFile)
		case t.CertFile != "":
			cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
			if err != nil {
				return nil, bad("kafka.tls.cert_file", "%s with key %s: %v", t.CertFile, t.KeyFile, err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		auth.TLS = cfg
	}
	if s := k.SASL; s != nil {
		if s.Username == "" {
			return nil, bad("kafka.sasl.username", "required")
		}
		if s.Password == "" && s.PasswordEnv == "" {
			return nil, bad("kafka.sasl.password", "required (or password_env: the environment variable that holds it)")
		}
		password, err := secret(s.Password, s.PasswordEnv, "kafka.sasl")
		if err != nil {
			return nil, err
		}
		var mech sasl.Mechanism
		switch s.Mechanism {
		case SASLPlain:
			mech = plain.Mechanism{Username: s.Username, Password: password}
		case SASLScramSHA256:
			mech, err = scram.Mechanism(scram.SHA256, s.Username, password)
		case SASLScramSHA512:
			mech, err = scram.Mechanism(scram.SHA512, s.Username, password)
		default:
			return nil, bad("kafka.sasl.mechanism", "%q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
		}
		if err != nil {
			return nil, bad("kafka.sasl.username", "%v", err)
		}
		auth.SASL = mech
	}
	return auth, nil
}
