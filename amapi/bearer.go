package amapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// Purposes of an attempt-bound bearer.
const (
	// PurposeStop authenticates a stop (StopPath) with the stop secret.
	PurposeStop = "stop"
	// PurposeCredentials authenticates a fetch of CredentialsPath with the
	// credentials secret.
	PurposeCredentials = "credentials"
)

// AttemptBearer is what a client sends as "Authorization: Bearer …" to
// the AM of attempt (its id, appattempt_…): HMAC-SHA256 keyed with the
// secret over "spindle/<purpose>/<attempt>", hex-encoded. The secret
// itself never leaves the client, and a bearer sent to one attempt's
// endpoint, or caught by whoever listens on a dead attempt's address, is
// useless against any other attempt and for any other purpose.
func AttemptBearer(secret []byte, purpose, attempt string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("spindle/" + purpose + "/" + attempt))
	return hex.EncodeToString(m.Sum(nil))
}

// CheckBearer reports, in constant time, whether the Authorization header
// carries the bearer of secret for purpose at attempt. An empty secret
// matches nothing.
func CheckBearer(authorization string, secret []byte, purpose, attempt string) bool {
	got, ok := strings.CutPrefix(authorization, "Bearer ")
	if !ok || len(secret) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(AttemptBearer(secret, purpose, attempt))) == 1
}
